/**
 * Module: a tree of named trainable parameters, non-trainable buffers and child modules
 * (the PyTorch nn.Module idea, kept small). Names are dotted paths (`block.0.attn.q_conv.weight`),
 * which are also the tensor names in checkpoints.
 */
import { BadInputError } from '../errors';
import * as tf from '../tf';
import type { SpikeMonitor } from './monitor';

/** Per-call context threaded through every forward pass. */
export interface ForwardContext {
  /** Training mode: BatchNorm uses batch statistics and updates its running averages. */
  training: boolean;
  /** When set, spiking layers report their input spike counts (for the energy report). */
  monitor?: SpikeMonitor;
}

export const INFERENCE: ForwardContext = Object.freeze({ training: false });
export const TRAINING: ForwardContext = Object.freeze({ training: true });

/** A tensor given as plain data (from a checkpoint). */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

export class ModuleError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_MODULE');
    this.name = 'ModuleError';
  }
}

export abstract class Module {
  private readonly params = new Map<string, tf.Variable>();
  private readonly buffers = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter; takes ownership of `init`. */
  protected addParam(name: string, init: tf.Tensor): tf.Variable {
    this.checkName(name);
    const v = tf.variable(init, true);
    init.dispose();
    this.params.set(name, v);
    return v;
  }

  /** Registers a non-trainable buffer (e.g. BatchNorm running statistics); takes ownership of `init`. */
  protected addBuffer(name: string, init: tf.Tensor): tf.Variable {
    this.checkName(name);
    const v = tf.variable(init, false);
    init.dispose();
    this.buffers.set(name, v);
    return v;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new ModuleError(`invalid local name "${name}" (no dots)`);
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new ModuleError(`duplicate name "${name}" in ${this.constructor.name}`);
    }
  }

  /** Trainable parameters with their dotted names, in registration order. */
  namedParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, v] of this.params) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Non-trainable buffers with their dotted names. */
  namedBuffers(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, v] of this.buffers) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Everything a checkpoint stores: parameters and buffers. */
  namedTensors(prefix = ''): [string, tf.Variable][] {
    return [...this.namedParameters(prefix), ...this.namedBuffers(prefix)];
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [n, m] of this.children) {
      out.push([prefix + n, m]);
      out.push(...m.namedModules(`${prefix}${n}.`));
    }
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /** Number of trainable scalars (what PyTorch's `sum(p.numel() for p in parameters())` counts). */
  parameterCount(): number {
    return this.namedParameters().reduce((s, [, v]) => s + v.size, 0);
  }

  /** Copies the parameters and buffers out as plain data. */
  stateDict(prefix = ''): Map<string, TensorData> {
    const out = new Map<string, TensorData>();
    for (const [n, v] of this.namedTensors(prefix)) {
      out.set(n, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /**
   * Assigns values by name. With `strict`, every tensor of the module must be present and no
   * unknown name may appear; shapes must always match.
   * Returns the names that were not used (only possible when not strict).
   */
  loadStateDict(state: Map<string, TensorData>, opts: { strict?: boolean; prefix?: string } = {}): string[] {
    const strict = opts.strict ?? true;
    const prefix = opts.prefix ?? '';
    const mine = new Map(this.namedTensors(prefix));
    const missing = [...mine.keys()].filter((n) => !state.has(n));
    if (strict && missing.length > 0) {
      throw new ModuleError(`missing tensor${missing.length > 1 ? 's' : ''}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    }
    const unused: string[] = [];
    for (const [name, t] of state) {
      const v = mine.get(name);
      if (!v) {
        if (name.startsWith(prefix)) unused.push(name);
        continue;
      }
      const same = t.shape.length === v.shape.length && t.shape.every((d, i) => d === v.shape[i]);
      if (!same) {
        throw new ModuleError(`shape mismatch for ${name}: checkpoint has [${t.shape.join(', ')}], model expects [${v.shape.join(', ')}]`);
      }
      tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
    }
    if (strict && unused.length > 0) {
      throw new ModuleError(`unexpected tensor${unused.length > 1 ? 's' : ''}: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ` and ${unused.length - 5} more` : ''}`);
    }
    return unused;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    for (const m of this.children.values()) m.dispose();
    this.params.clear();
    this.buffers.clear();
    this.children.clear();
  }
}
