/**
 * Hugging Face model ids downloaded into the hub cache (src/teacher/hf-download.ts,
 * src/teacher/hf-model.ts) from a loopback stand-in for the Hub (test/helpers/hf-hub-server.ts)
 * serving a generated tiny CLIP: the cache it writes is the one huggingface_hub writes and the
 * offline resolver reads; a cached model is never asked for again; errors are one line with the fix;
 * an interrupted download resumes; a folder wins over an id; the token never reaches the CDN.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openHfClipFolder } from '../../src/teacher/checkpoint';
import { HfCacheError, resolveHfSnapshot } from '../../src/teacher/hf-cache';
import { HfDownloadError, normaliseEtag } from '../../src/teacher/hf-download';
import { hfOffline, resolveModel } from '../../src/teacher/hf-model';
import { writeClipFixture } from '../helpers/clip-fixture';
import { type HubServer, sha256, startHubServer } from '../helpers/hf-hub-server';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const REPO = 'openai/clip-tiny';
let root: string;
let files: Record<string, Buffer>;
let server: HubServer;
let n = 0;

/** A fresh, empty hub cache and the environment that points at it and at the server. */
function freshEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const cache = path.join(root, `cache-${n++}`);
  return { HF_HUB_CACHE: cache, HF_ENDPOINT: server.url, ...extra };
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-download-'));
  const dir = writeClipFixture(path.join(root, 'src'), { seed: 3, bin: false }).dir;
  files = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
  const noMerges = { ...files };
  delete noMerges['merges.txt'];
  server = await startHubServer([
    { repo: REPO, commit: COMMIT, refs: { main: COMMIT, v1: COMMIT }, files },
    { repo: 'acme/no-merges', commit: 'f'.repeat(40), refs: { main: 'f'.repeat(40) }, files: noMerges },
  ]);
});

afterAll(async () => {
  await server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a download writes the hub cache as huggingface_hub does; the offline resolver then reads it', async () => {
  const env = freshEnv();
  const cache = env.HF_HUB_CACHE as string;
  const before = server.requests.length;
  const r = await resolveModel(REPO, { env, download: true });
  const repoDir = path.join(cache, 'models--openai--clip-tiny');
  expect(r.dir).toBe(path.join(repoDir, 'snapshots', COMMIT));
  expect(r.hf).toMatchObject({ repo: REPO, revision: 'main', commit: COMMIT, cache });
  expect(fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
  // every file of the fixture, byte for byte, as a relative link into blobs/ named by its ETag
  for (const [f, bytes] of Object.entries(files)) {
    const link = path.join(r.dir, f);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(path.isAbsolute(fs.readlinkSync(link))).toBe(false);
    expect(fs.readFileSync(link).equals(bytes)).toBe(true);
  }
  expect(fs.readlinkSync(path.join(r.dir, 'model.safetensors'))).toBe(path.join('..', '..', 'blobs', sha256(files['model.safetensors'])));
  expect(fs.readdirSync(path.join(repoDir, 'blobs')).filter((b) => b.endsWith('.part'))).toEqual([]);
  // the weights came from the CDN, without the token; the small files from the hub
  const mine = server.requests.slice(before);
  expect(mine.filter((q) => q.server === 'cdn').map((q) => q.path)).toEqual([`/blobs/${sha256(files['model.safetensors'])}`]);
  // the offline resolver and the folder reader take the result as it is
  expect(resolveHfSnapshot({ repo: REPO, revision: 'main' }, cache, Object.keys(files)).dir).toBe(r.dir);
  expect(openHfClipFolder(r.dir).weightsFormat).toBe('safetensors');
  expect(r.downloaded?.files.every((f) => f.downloaded)).toBe(true);

  // a second call is served from the cache: no request at all
  const count = server.requests.length;
  const again = await resolveModel(REPO, { env, download: true });
  expect(again.dir).toBe(r.dir);
  expect(again.downloaded).toBeUndefined();
  expect(server.requests.length).toBe(count);
});

test('a tag or a commit: every file is fetched at the commit the first one named; the ref is written', async () => {
  const env = freshEnv({ HF_TOKEN: 'hf_secret' });
  const before = server.requests.length;
  const r = await resolveModel(`${REPO}@v1`, { env, download: true });
  expect(r.hf).toMatchObject({ revision: 'v1', commit: COMMIT });
  expect(fs.readFileSync(path.join(env.HF_HUB_CACHE as string, 'models--openai--clip-tiny', 'refs', 'v1'), 'utf8')).toBe(COMMIT);
  const mine = server.requests.slice(before);
  expect(mine[0].path).toBe(`/${REPO}/resolve/v1/config.json`);
  expect(mine.slice(1).filter((q) => q.server === 'hub').every((q) => q.path.startsWith(`/${REPO}/resolve/${COMMIT}/`))).toBe(true);
  // HF_TOKEN goes to the hub only, never to the CDN a redirect leads to
  expect(mine.filter((q) => q.server === 'hub').every((q) => q.auth)).toBe(true);
  expect(mine.filter((q) => q.server === 'cdn').every((q) => !q.auth)).toBe(true);
  const byCommit = await resolveModel(`${REPO}@${COMMIT}`, { env: freshEnv(), download: true });
  expect(byCommit.hf?.commit).toBe(COMMIT);
});

test('what cannot be had is one line with the fix: not cached, offline, no such repo, a missing file', async () => {
  const oneLine = async (p: Promise<unknown>): Promise<HfCacheError | HfDownloadError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).not.toContain('\n');
    return e as HfCacheError;
  };
  const before = server.requests.length;
  const notCached = await oneLine(resolveModel(REPO, { env: freshEnv() }));
  expect(notCached).toBeInstanceOf(HfCacheError);
  expect(notCached.message).toMatch(/openai\/clip-tiny is not in the Hugging Face cache/);
  expect(notCached.fix).toMatch(/--download/);
  const offline = await oneLine(resolveModel(REPO, { env: freshEnv({ HF_HUB_OFFLINE: '1' }), download: true }));
  expect(offline.message).toMatch(/HF_HUB_OFFLINE is set/);
  expect(offline.fix).toMatch(/unset HF_HUB_OFFLINE/);
  expect(server.requests.length).toBe(before); // neither asked the server anything
  expect(hfOffline({ TRANSFORMERS_OFFLINE: 'yes' })).toBe(true);
  expect(hfOffline({ HF_HUB_OFFLINE: '0' })).toBe(false);

  const noRepo = await oneLine(resolveModel('nobody/nothing', { env: freshEnv(), download: true }));
  expect(noRepo).toBeInstanceOf(HfDownloadError);
  expect(noRepo.message).toMatch(/nobody\/nothing: .* HTTP 401 \(RepoNotFound\): no such model/);
  expect(noRepo.fix).toMatch(/HF_TOKEN/);
  const noRev = await oneLine(resolveModel(`${REPO}@nope`, { env: freshEnv(), download: true }));
  expect(noRev.message).toMatch(/has no revision "nope"/);
  const env = freshEnv();
  const noFile = await oneLine(resolveModel('acme/no-merges', { env, download: true }));
  expect(noFile.message).toMatch(/^acme\/no-merges@.* has no merges\.txt on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)$/);
  // nothing names a revision that is not all there
  expect(fs.existsSync(path.join(env.HF_HUB_CACHE as string, 'models--acme--no-merges', 'refs', 'main'))).toBe(false);
  expect(normaliseEtag('W/"abc"')).toBe('abc');
});

test('an interrupted download resumes: within a call, and in the next call after it gave up', async () => {
  const sha = sha256(files['model.safetensors']);
  const env = freshEnv();
  const blob = path.join(env.HF_HUB_CACHE as string, 'models--openai--clip-tiny', 'blobs', sha);
  // dropped 5 times: more than the retries of one call (3), so the first call fails and keeps the part
  server.dropCdn(sha, 1000, 5);
  const failed = await resolveModel(REPO, { env, download: true }).catch((e: unknown) => e as HfDownloadError);
  expect(failed).toBeInstanceOf(HfDownloadError);
  expect((failed as HfDownloadError).message).toMatch(/model\.safetensors/);
  expect((failed as HfDownloadError).fix).toMatch(/again with --download: it resumes/);
  expect(fs.existsSync(`${blob}.part`)).toBe(true);
  expect(fs.existsSync(blob)).toBe(false);
  await expect(resolveModel(REPO, { env })).rejects.toThrow(/not in the Hugging Face cache|no revision "main"/);
  const before = server.requests.length;
  const r = await resolveModel(REPO, { env, download: true });
  expect(fs.readFileSync(path.join(r.dir, 'model.safetensors')).equals(files['model.safetensors'])).toBe(true);
  const cdn = server.requests.slice(before).filter((q) => q.server === 'cdn');
  expect(cdn[0].range).toMatch(/^bytes=\d+-$/); // resumed, not restarted
  expect(cdn.every((q) => q.status === 206)).toBe(true);
  // the blobs fetched before the failure are not fetched again
  const got = server.requests.slice(before).filter((q) => q.method === 'GET').map((q) => path.basename(q.path));
  for (const f of ['config.json', 'vocab.json', 'merges.txt']) expect(got).not.toContain(f);
});

test('a blob that does not match its ETag is deleted, never linked', async () => {
  const sha = sha256(files['model.safetensors']);
  server.corrupt(sha, Buffer.from(files['model.safetensors']).fill(7, 100, 200));
  const env = freshEnv();
  try {
    await expect(resolveModel(REPO, { env, download: true })).rejects.toThrow(/checksum mismatch .*sha256/);
  } finally {
    server.corrupt(sha, files['model.safetensors']);
  }
  const blobs = path.join(env.HF_HUB_CACHE as string, 'models--openai--clip-tiny', 'blobs');
  expect(fs.readdirSync(blobs).filter((b) => b.startsWith(sha))).toEqual([]);
  expect(fs.existsSync(path.join(env.HF_HUB_CACHE as string, 'models--openai--clip-tiny', 'snapshots', COMMIT, 'model.safetensors'))).toBe(false);
});

test('a folder that exists wins over an id of the same spelling', async () => {
  const cwd = process.cwd();
  const here = fs.mkdtempSync(path.join(root, 'cwd-'));
  fs.mkdirSync(path.join(here, 'openai', 'clip-tiny'), { recursive: true });
  const before = server.requests.length;
  process.chdir(here);
  try {
    expect(await resolveModel(REPO, { env: freshEnv(), download: true })).toEqual({ dir: REPO });
  } finally {
    process.chdir(cwd);
  }
  expect(server.requests.length).toBe(before);
});
