/**
 * Hugging Face model ids from the local hub cache (src/teacher/hf-cache.ts), on a cache folder
 * generated here in huggingface_hub's layout (refs/, snapshots/<commit>/ linking into blobs/),
 * and `spikeclip convert teacher --from openai/...` through the real CLI over dist/.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HfCacheError, hfHubCacheDir, parseHfModelId, resolveHfSnapshot } from '../../src/teacher/hf-cache';
import { resolveModel } from '../../src/teacher/hf-model';
import { writeClipFixture } from '../helpers/clip-fixture';
import { addToHfCache } from '../helpers/hf-cache-fixture';

const ROOT = path.resolve(__dirname, '..', '..');
const COMMIT = 'a'.repeat(40);
const OLD = 'b'.repeat(40);

let root: string;
let cache: string;
let fixtureDir: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-cache-'));
  fixtureDir = writeClipFixture(path.join(root, 'src'), { seed: 5 }).dir;
  cache = path.join(root, 'hf', 'hub');
  addToHfCache(cache, 'openai/clip-tiny', fixtureDir, COMMIT, ['main']);
  // an older commit, reachable by its hash only, and a tag
  fs.mkdirSync(path.join(cache, 'models--openai--clip-tiny', 'snapshots', OLD), { recursive: true });
  fs.writeFileSync(path.join(cache, 'models--openai--clip-tiny', 'snapshots', OLD, 'config.json'), '{}');
  fs.writeFileSync(path.join(cache, 'models--openai--clip-tiny', 'refs', 'v1'), OLD);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test('the cache folder follows huggingface_hub: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, ~/.cache', () => {
  expect(hfHubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' }, '/home/u')).toBe('/a');
  expect(hfHubCacheDir({ HF_HOME: '/b' }, '/home/u')).toBe('/b/hub');
  expect(hfHubCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/x/huggingface/hub');
  expect(hfHubCacheDir({}, '/home/u')).toBe('/home/u/.cache/huggingface/hub');
});

test('model ids and revisions; paths are not ids', () => {
  expect(parseHfModelId('openai/clip-vit-base-patch16')).toEqual({ repo: 'openai/clip-vit-base-patch16', revision: 'main' });
  expect(parseHfModelId('openai/clip-vit-base-patch16@v1.0')).toEqual({ repo: 'openai/clip-vit-base-patch16', revision: 'v1.0' });
  for (const s of ['./models/clip', '/abs/clip', 'a/b/c', 'clip', '../x', 'a/..', 'a--b/c']) expect(parseHfModelId(s)).toBeUndefined();
});

test('main, a tag and a commit resolve to their snapshots; files read through the blob links', () => {
  const main = resolveHfSnapshot({ repo: 'openai/clip-tiny', revision: 'main' }, cache);
  expect(main.dir).toBe(path.join(cache, 'models--openai--clip-tiny', 'snapshots', COMMIT));
  expect(main.hf).toMatchObject({ repo: 'openai/clip-tiny', revision: 'main', commit: COMMIT });
  expect(fs.readFileSync(path.join(main.dir, 'config.json'))).toEqual(fs.readFileSync(path.join(fixtureDir, 'config.json')));
  expect(resolveHfSnapshot({ repo: 'openai/clip-tiny', revision: 'v1' }, cache).hf?.commit).toBe(OLD);
  expect(resolveHfSnapshot({ repo: 'openai/clip-tiny', revision: OLD }, cache).hf?.commit).toBe(OLD);
});

test('what is not cached is one error saying how to get it; an existing folder wins over an id', async () => {
  expect(() => resolveHfSnapshot({ repo: 'openai/clip-huge', revision: 'main' }, cache)).toThrow(/openai\/clip-huge is not in the Hugging Face cache/);
  expect(() => resolveHfSnapshot({ repo: 'openai/clip-tiny', revision: 'dev' }, cache)).toThrow(/has no revision "dev"/);
  expect(() => resolveHfSnapshot({ repo: 'openai/clip-tiny', revision: 'v1' }, cache, ['config.json', 'model.safetensors'])).toThrow(/lacks model.safetensors/);
  const err = await resolveModel('openai/clip-huge', { env: { HF_HUB_CACHE: cache } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HfCacheError);
  expect(err).toMatchObject({ exitCode: 4, fix: expect.stringContaining('add --download') });
  expect(await resolveModel('openai/clip-tiny', { env: { HF_HUB_CACHE: cache } })).toMatchObject({ hf: { commit: COMMIT } });
  // an old snapshot without weights counts as not cached
  await expect(resolveModel('openai/clip-tiny@v1', { env: { HF_HUB_CACHE: cache } })).rejects.toThrow(/incomplete/);
  expect(await resolveModel(fixtureDir, { env: { HF_HUB_CACHE: cache } })).toEqual({ dir: fixtureDir });
  await expect(resolveModel('./no/such/dir/at/all', { env: {} })).rejects.toThrow(/no such folder/);
});

test('spikeclip convert teacher --from <model id> converts the cached snapshot and records the commit', () => {
  const out = path.join(root, 'ckpt');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'convert', 'teacher', '--from', 'openai/clip-tiny', '--out', out, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_CACHE: cache, SPIKECLIP_BACKEND: '', CI: '1' },
    timeout: 120_000,
  });
  expect(r.status).toBe(0);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { provenance?: { teacher?: string } };
  expect(JSON.stringify(cfg)).toContain(`openai/clip-tiny@${COMMIT}`);
});
