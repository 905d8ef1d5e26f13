#!/usr/bin/env node
// Development entry point: same as run.js, but reports that it is a development run.
// Rebuild with `npm run build` (or `npx tsc -w -p tsconfig.build.json`) before using it.
const { execute } = require('@oclif/core');

execute({ development: true, dir: __dirname }).catch(() => {
  process.exitCode = process.exitCode || 1;
});
