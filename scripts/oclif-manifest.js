#!/usr/bin/env node
/**
 * Writes oclif.manifest.json (every command's id, flags, args and help text) from the compiled
 * commands in dist/, as `oclif manifest` does, so that `spikeclip --version`, `--help` and a command
 * start without loading every command module. Run by `npm run build` after tsc; the file is
 * generated, kept out of git and shipped in the package (package.json `files`).
 */
const fs = require('fs');
const path = require('path');
const { Plugin } = require('@oclif/core');

async function main() {
  const root = path.resolve(__dirname, '..');
  const file = path.join(root, 'oclif.manifest.json');
  // A stale manifest must not describe the commands it is regenerated from.
  fs.rmSync(file, { force: true });
  const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
  await plugin.load();
  if (!plugin.valid) throw new Error(`${root} is not an oclif plugin (package.json "oclif")`);
  const ids = Object.keys(plugin.manifest.commands);
  if (ids.length === 0) throw new Error('no commands found in dist/commands: run tsc first');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
  fs.renameSync(tmp, file);
  process.stdout.write(`oclif.manifest.json: ${ids.length} commands\n`);
}

main().catch((e) => {
  process.stderr.write(`oclif-manifest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
