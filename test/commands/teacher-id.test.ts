/**
 * Hugging Face model ids where a command takes a teacher, through the real CLI (bin/run.js over
 * dist/; `npm test` builds first): `pretrain --teacher <id>` from a generated hub cache
 * (HF_HUB_CACHE, offline) on the shapes data, converted once and recorded in params.json; `eval
 * --checkpoint <id>` reusing the conversion; the one-line error when offline; and `convert teacher
 * --from <id> --download` from the loopback Hub of test/helpers/hf-hub-server.ts (HF_ENDPOINT).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeClipFixture } from '../helpers/clip-fixture';
import { BIN, ROOT, runCli, type CliRun } from '../helpers/cli';
import { addToHfCache } from '../helpers/hf-cache-fixture';
import { startHubServer } from '../helpers/hf-hub-server';

const COMMIT = 'c0ffee'.padEnd(40, '0');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'teacher-id-'));
const hub = path.join(work, 'hub');
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache'), SPIKECLIP_PROGRESS_INTERVAL: '0', HF_HUB_CACHE: hub, HF_HUB_OFFLINE: '1' };
const converted = path.join(work, 'cache', 'teachers', 'models--openai--clip-tiny', COMMIT);

function result<T = Record<string, unknown>>(r: CliRun): T {
  if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return (JSON.parse(r.stdout) as { result: T }).result;
}

/** The CLI without blocking this process (so the loopback server here can answer it). */
function runCliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  const src = writeClipFixture(path.join(work, 'hf'), { seed: 5, bin: false, imageSize: 32, patchSize: 8 }).dir;
  addToHfCache(hub, 'openai/clip-tiny', src, COMMIT, ['main']);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('pretrain --teacher <model id>: read from the hub cache offline, converted once, recorded in params.json; eval reuses it', () => {
  const out = path.join(work, 'run');
  const r = runCli(['pretrain', '--part', 'text', '--teacher', 'openai/clip-tiny', '--dataset', 'shapes', '--max-steps', '2', '--batch-size', '8', '--preset', 'spikeclip-tiny', '--out', out, '--json'], ENV);
  result(r);
  const params = JSON.parse(fs.readFileSync(path.join(out, 'params.json'), 'utf8')) as { options: Record<string, unknown>; provenance: Record<string, unknown> };
  expect(params.options.teacher).toBe(converted);
  expect(params.provenance.teacher).toBe('openai/clip-tiny');
  expect(params.provenance.teacherSource).toEqual({ id: 'openai/clip-tiny', repo: 'openai/clip-tiny', revision: 'main', commit: COMMIT, snapshot: path.join(hub, 'models--openai--clip-tiny', 'snapshots', COMMIT), downloaded: false });
  const ck = JSON.parse(fs.readFileSync(path.join(converted, 'config.json'), 'utf8')) as { kind: string; provenance: { teacher: string } };
  expect(ck).toMatchObject({ kind: 'teacher', provenance: { teacher: `openai/clip-tiny@${COMMIT}` } });

  // the teacher checkpoint is converted once: eval --checkpoint <id> reads the same one
  const mtime = fs.statSync(path.join(converted, 'model.safetensors')).mtimeMs;
  const ev = runCli(['eval', '--checkpoint', 'openai/clip-tiny@main', '--dataset', 'shapes', '--limit', '8', '--no-classifier-cache'], ENV);
  expect(ev.status).toBe(0);
  expect(ev.stderr).toContain(`openai/clip-tiny@main: commit ${COMMIT}, from the Hugging Face cache ${hub}`);
  expect(ev.stderr).not.toMatch(/converted/);
  expect(fs.statSync(path.join(converted, 'model.safetensors')).mtimeMs).toBe(mtime);
});

test('a model that is not cached, with HF_HUB_OFFLINE=1: one line with the fix, exit 4, nothing trained', () => {
  const out = path.join(work, 'never');
  const r = runCli(['pretrain', '--part', 'text', '--teacher', 'openai/clip-huge', '--dataset', 'shapes', '--out', out], ENV);
  expect(r.status).toBe(4);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: openai\/clip-huge is not in the Hugging Face cache .*HF_HUB_OFFLINE is set.* \(fix: unset HF_HUB_OFFLINE .*--download/);
  expect(fs.existsSync(out)).toBe(false);
});

test('convert teacher --from <model id> --download fetches it from HF_ENDPOINT into the hub cache', async () => {
  const files = Object.fromEntries(fs.readdirSync(path.join(work, 'hf')).map((f) => [f, fs.readFileSync(path.join(work, 'hf', f))]));
  const server = await startHubServer([{ repo: 'acme/clip-tiny', commit: COMMIT, refs: { main: COMMIT }, files }]);
  try {
    const hub2 = path.join(work, 'hub2');
    const env = { ...ENV, HF_HUB_OFFLINE: '', HF_HUB_CACHE: hub2, HF_ENDPOINT: server.url };
    const out = path.join(work, 'ckpt');
    const r = await runCliAsync(['convert', 'teacher', '--from', 'acme/clip-tiny', '--download', '--out', out], env);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/acme\/clip-tiny@main: commit c0ffee0+, downloaded 7 file\(s\)/);
    expect(fs.readFileSync(path.join(hub2, 'models--acme--clip-tiny', 'refs', 'main'), 'utf8')).toBe(COMMIT);
    const ck = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { provenance: { teacherSource: Record<string, unknown> } };
    expect(ck.provenance.teacherSource).toMatchObject({ id: 'acme/clip-tiny', commit: COMMIT, downloaded: true });
    // without --download the same command does not touch the network: the model is cached now
    const n = server.requests.length;
    const again = await runCliAsync(['convert', 'teacher', '--from', 'acme/clip-tiny', '--out', path.join(work, 'ckpt2')], env);
    expect(again.status).toBe(0);
    expect(server.requests.length).toBe(n);
  } finally {
    await server.close();
  }
});
