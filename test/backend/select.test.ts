import * as tf from '../../src/tf';
import { toErrorReport } from '../../src/cli/errors';
import { BackendError, describeBackend, initBackend, parseBackendChoice, releaseBackend, resolveBackendChoice } from '../../src/backend';

describe('backend choice', () => {
  it('parses the four names case-insensitively', () => {
    expect(parseBackendChoice('WASM')).toBe('wasm');
    expect(parseBackendChoice(' cpu ')).toBe('cpu');
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(parseBackendChoice('')).toBe('auto');
  });

  it('rejects unknown names with the list of choices', () => {
    expect(() => parseBackendChoice('cuda')).toThrow(BackendError);
    expect(() => parseBackendChoice('cuda')).toThrow('unknown backend "cuda" in --backend: choose one of auto, node, wasm, cpu');
  });

  it('takes the flag over SPIKECLIP_BACKEND over auto', () => {
    expect(resolveBackendChoice({ backend: 'cpu', env: { SPIKECLIP_BACKEND: 'wasm' } })).toBe('cpu');
    expect(resolveBackendChoice({ env: { SPIKECLIP_BACKEND: 'wasm' } })).toBe('wasm');
    expect(resolveBackendChoice({ env: {} })).toBe('auto');
    expect(() => resolveBackendChoice({ env: { SPIKECLIP_BACKEND: 'gpu' } })).toThrow('in SPIKECLIP_BACKEND');
  });
});

describe('initBackend', () => {
  afterEach(() => releaseBackend());

  it('starts the pure-JS cpu backend when asked', async () => {
    const info = await initBackend({ backend: 'cpu', env: {} });
    expect(info).toMatchObject({ name: 'cpu', tfName: 'cpu', threads: 1, skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(describeBackend(info)).toBe('backend: cpu (1 thread)');
  });

  it('starts wasm with SIMD from the installed package files (no network)', async () => {
    const info = await initBackend({ backend: 'wasm', env: {} });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.simd).toBe(true);
    // all cores by default (the threaded build; see threads.test.ts), at most its 8 workers
    const cores = require('os').availableParallelism?.() ?? require('os').cpus().length;
    expect(info.threads).toBe(Math.min(cores, 8));
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);
    expect(y).toBe(11);
  });

  it('starts the single-threaded SIMD build with --threads 1', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 1, env: {} });
    expect(info).toMatchObject({ name: 'wasm', threads: 1, simd: true });
    expect(info.threadsNote).toBeUndefined();
  });

  it('fails, without falling back, when node is requested but tfjs-node is not installed', async () => {
    let installed = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      installed = false;
    }
    if (installed) return; // a machine with libtensorflow: nothing to check here
    const before = tf.getBackend();
    await expect(initBackend({ backend: 'node', env: {} })).rejects.toThrow(
      /native backend \(@tensorflow\/tfjs-node\) is not available: .*use --backend wasm/,
    );
    // "not available" is exit status 3 (docs/cli.md), not 4 (bad input)
    const err = await initBackend({ backend: 'node', env: {} }).catch((e: unknown) => e);
    expect(toErrorReport(err)).toMatchObject({ status: 3, code: 'E_NOT_AVAILABLE' });
    expect(tf.getBackend()).toBe(before);
  });

  it('auto picks the first that works and says why it skipped the others', async () => {
    const info = await initBackend({ env: {} });
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    if (nodeInstalled) {
      expect(info.name).toBe('node');
    } else {
      expect(info.name).toBe('wasm');
      expect(info.skipped).toHaveLength(1);
      expect(info.skipped[0].name).toBe('node');
      expect(info.skipped[0].reason).toMatch(/tfjs-node/);
    }
  });

  it('rejects a non-positive thread count', async () => {
    await expect(initBackend({ backend: 'cpu', threads: 0, env: {} })).rejects.toThrow('--threads must be a positive integer');
  });
});
