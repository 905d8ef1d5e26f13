/**
 * Fuzzed checkpoint config.json (issue 13): structurally mutated architectures (absurd, negative,
 * fractional, wrongly typed values at random keys) and byte-mutated files, read as the loaders read
 * them. Each is accepted (and then cheap to describe) or refused with a clean exit-4 error.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readCheckpointConfig, saveCheckpoint } from '../../src/io/checkpoint';
import { CONFIG_LIMITS, countConfigParameters, getPreset, validateConfig } from '../../src/models/config';
import { compareWeightShapes } from '../../src/models/check-weights';
import { clipTensorShapes, parseHfClipConfig } from '../../src/models/clip-config';
import { fuzz, rng } from '../helpers/fuzz';

const HOSTILE: unknown[] = [0, -1, 1, 2, 3, 7, 1.5, 1e9, 1e300, -1e9, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 8192, 8193, 1_000_001, '4', '', null, true, [], {}, [4], { a: 1 }, 'lif', 'plif', 'sigmoid', 'atan'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Paths of every value in a JSON tree. */
function paths(v: Json, at: string[] = []): string[][] {
  const out: string[][] = [at];
  if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x as Json, [...at, k]));
  return out;
}

/** A copy of `v` with 1-4 random values replaced by hostile ones (or deleted, or given an extra key). */
function mutateTree(v: Json, r: () => number): Json {
  const c = JSON.parse(JSON.stringify(v)) as Json;
  for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) {
    const all = paths(c).filter((p) => p.length > 0);
    const p = all[Math.floor(r() * all.length)];
    let parent = c as Record<string, Json>;
    for (const key of p.slice(0, -1)) parent = parent[key] as Record<string, Json>;
    const last = p[p.length - 1];
    const roll = r();
    if (roll < 0.08) delete parent[last];
    else if (roll < 0.12) parent[`${last}X`] = 1;
    else parent[last] = HOSTILE[Math.floor(r() * HOSTILE.length)] as Json;
  }
  return c;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-fuzz-config-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What a loader does with an architecture: validate, then (cheaply) list and compare its tensors. */
function loadArchitecture(raw: unknown): void {
  const cfg = validateConfig(raw, 'ck/config.json: architecture');
  const p = countConfigParameters(cfg);
  expect(p.image + p.text).toBeLessThanOrEqual(CONFIG_LIMITS.parameters);
  compareWeightShapes(cfg, new Map());
}

it('4,000 mutated student architectures: valid and bounded, or a ConfigError', async () => {
  const seeds = ['spikeclip-b', 'spikeclip-tiny'].map((n) => getPreset(n) as unknown as Json);
  const r = rng(1305);
  const enc = new TextEncoder();
  const t0 = Date.now();
  const stats = await fuzz({
    // the fuzzer's byte mutations apply to the JSON text of a structurally mutated tree
    seeds: Array.from({ length: 400 }, () => enc.encode(JSON.stringify(mutateTree(seeds[Math.floor(r() * 2)], r)))),
    cases: 4000,
    seed: 1306,
    caseMs: 300,
    parse: (bytes) => {
      let raw: unknown;
      try {
        raw = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return; // not JSON: the checkpoint reader's own error, tested below
      }
      loadArchitecture(raw);
    },
  });
  // and without byte mutations: every structural mutation alone
  for (let i = 0; i < 1000; i++) {
    const m = mutateTree(seeds[i % 2], r);
    try {
      loadArchitecture(m);
    } catch (e) {
      expect((e as Error).name).toBe('ConfigError');
      expect((e as Error).message).toMatch(/^ck\/config\.json: architecture/);
      expect((e as Error).message).not.toContain('\n');
    }
  }
  expect(stats.rejected).toBeGreaterThan(200);
  expect(Date.now() - t0).toBeLessThan(12_000);
});

it('600 byte-mutated config.json files through readCheckpointConfig: read or a CheckpointError', async () => {
  const ck = path.join(dir, 'ck');
  await saveCheckpoint(ck, { config: { kind: 'student', architecture: getPreset('spikeclip-tiny') as unknown as Record<string, unknown> }, weights: new Map() });
  const seed = new Uint8Array(fs.readFileSync(path.join(ck, 'config.json')));
  const stats = await fuzz({
    seeds: [seed],
    cases: 600,
    seed: 1307,
    caseMs: 300,
    parse: async (bytes) => {
      fs.writeFileSync(path.join(ck, 'config.json'), bytes);
      const c = await readCheckpointConfig(ck);
      if (c.architecture !== undefined) loadArchitecture(c.architecture);
    },
  });
  expect(stats.rejected).toBeGreaterThan(100);
});

it('2,000 mutated teacher hf_config objects: valid and cheap to list, or a ClipConfigError', async () => {
  const base: Json = {
    model_type: 'clip',
    projection_dim: 512,
    text_config: { hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 8, vocab_size: 49408, max_position_embeddings: 77 },
    vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 16 },
  };
  const r = rng(1308);
  for (let i = 0; i < 2000; i++) {
    const m = mutateTree(base, r);
    const t0 = Date.now();
    try {
      const c = parseHfClipConfig(m, 'ck/config.json hf_config');
      expect(clipTensorShapes(c).size).toBeLessThan(5000);
    } catch (e) {
      expect((e as Error).name).toBe('ClipConfigError');
      expect((e as Error).message).toMatch(/^ck\/config\.json hf_config: /);
    }
    expect(Date.now() - t0).toBeLessThan(300);
  }
});
