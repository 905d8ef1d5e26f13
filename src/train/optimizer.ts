/**
 * Adam with optional AMSGrad, PyTorch semantics (torch.optim.Adam), and the cosine-annealing
 * schedule the reference steps once per epoch (torch.optim.lr_scheduler.CosineAnnealingLR).
 *
 * Step t (1-based), gradient g, decoupled from nothing (weight decay is L2 added to g, as PyTorch):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v)   (AMSGrad)
 *   p -= lr / (1 - b1^t) * m / (sqrt(vmax or v) / sqrt(1 - b2^t) + eps)
 * State is explicit and serialisable (`stateTensors` / `loadStateTensors`) for resume.
 * Per-parameter learning-rate scales (PyTorch's parameter groups with their own lr): parameter
 * `name` steps with lr x scale; a scale of 0 freezes it (its moments are not kept either).
 */
import { BadInputError } from '../errors';
import * as tf from '../tf';
import type { TensorData } from '../snn/module';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

/** The reference optimiser: Adam, AMSGrad, betas (0.9, 0.999), eps 1e-8, no weight decay. */
export const REFERENCE_ADAM: Readonly<Omit<AdamConfig, 'lr'>> = Object.freeze({
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: true,
});

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  vmax?: tf.Variable;
}

export class OptimizerError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_OPTIMIZER');
    this.name = 'OptimizerError';
  }
}

export class Adam {
  readonly config: AdamConfig;
  /** Number of steps taken. */
  step = 0;
  private readonly slots = new Map<string, Slot>();
  private readonly lrScale: ReadonlyMap<string, number>;

  constructor(
    private readonly params: [string, tf.Variable][],
    config: Partial<AdamConfig> & { lr: number },
    /** Learning-rate scale per parameter name (default 1; 0 freezes). */
    lrScale: ReadonlyMap<string, number> = new Map(),
  ) {
    this.config = { ...REFERENCE_ADAM, ...config };
    const c = this.config;
    if (!(c.lr >= 0) || !(c.eps > 0) || !(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) || !(c.weightDecay >= 0)) {
      throw new OptimizerError(`invalid Adam settings: ${JSON.stringify(c)}`);
    }
    const known = new Set(params.map(([n]) => n));
    for (const [name, s] of lrScale) {
      if (!known.has(name)) throw new OptimizerError(`learning-rate scale for unknown parameter ${name}`);
      if (!(s >= 0) || !Number.isFinite(s)) throw new OptimizerError(`learning-rate scale of ${name} must be a non-negative number, got ${s}`);
    }
    this.lrScale = new Map(lrScale);
  }

  get lr(): number {
    return this.config.lr;
  }

  set lr(value: number) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new OptimizerError(`learning rate must be a non-negative number, got ${value}`);
    this.config.lr = value;
  }

  private slot(name: string, p: tf.Variable): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = {
        m: tf.variable(tf.zerosLike(p), false),
        v: tf.variable(tf.zerosLike(p), false),
        vmax: this.config.amsgrad ? tf.variable(tf.zerosLike(p), false) : undefined,
      };
      this.slots.set(name, s);
    }
    return s;
  }

  /**
   * Applies one update. `grads` maps parameter names (as given to the constructor) to gradients;
   * parameters without a gradient are left alone (and their moments are not advanced).
   * The caller keeps ownership of `grads`.
   */
  applyGradients(grads: Map<string, tf.Tensor> | Record<string, tf.Tensor>): void {
    const g = grads instanceof Map ? grads : new Map(Object.entries(grads));
    this.step += 1;
    const { lr, beta1, beta2, eps, weightDecay, amsgrad } = this.config;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const [name, p] of this.params) {
      const grad = g.get(name);
      const scale = this.lrScale.get(name) ?? 1;
      if (!grad || scale === 0) continue;
      const s = this.slot(name, p);
      tf.tidy(() => {
        const gr = weightDecay > 0 ? tf.add(grad, tf.mul(p, weightDecay)) : grad;
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(gr, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(gr), 1 - beta2));
        s.m.assign(m);
        s.v.assign(v);
        let vUse: tf.Tensor = v;
        if (amsgrad && s.vmax) {
          const vmax = tf.maximum(s.vmax, v);
          s.vmax.assign(vmax);
          vUse = vmax;
        }
        const denom = tf.add(tf.div(tf.sqrt(vUse), Math.sqrt(bc2)), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), (lr * scale) / bc1)));
      });
    }
  }

  /** Moments as plain data, named `<param>.exp_avg`, `.exp_avg_sq`, `.max_exp_avg_sq` (PyTorch's names). */
  stateTensors(): Map<string, TensorData> {
    const out = new Map<string, TensorData>();
    for (const [name, s] of this.slots) {
      out.set(`${name}.exp_avg`, { shape: s.m.shape.slice(), data: s.m.dataSync() as Float32Array });
      out.set(`${name}.exp_avg_sq`, { shape: s.v.shape.slice(), data: s.v.dataSync() as Float32Array });
      if (s.vmax) out.set(`${name}.max_exp_avg_sq`, { shape: s.vmax.shape.slice(), data: s.vmax.dataSync() as Float32Array });
    }
    return out;
  }

  /** Restores moments and the step count written by `stateTensors`. */
  loadStateTensors(state: Map<string, TensorData>, step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new OptimizerError(`invalid optimiser step ${step}`);
    for (const [name, p] of this.params) {
      const m = state.get(`${name}.exp_avg`);
      const v = state.get(`${name}.exp_avg_sq`);
      if (!m && !v) continue;
      if (!m || !v) throw new OptimizerError(`optimiser state for ${name} is incomplete`);
      const s = this.slot(name, p);
      const put = (target: tf.Variable, d: TensorData, what: string): void => {
        if (d.data.length !== p.size) throw new OptimizerError(`optimiser state ${name}.${what} has ${d.data.length} values, parameter has ${p.size}`);
        tf.tidy(() => target.assign(tf.tensor(d.data, p.shape, 'float32')));
      };
      put(s.m, m, 'exp_avg');
      put(s.v, v, 'exp_avg_sq');
      if (s.vmax) {
        const vmax = state.get(`${name}.max_exp_avg_sq`);
        if (!vmax) throw new OptimizerError(`optimiser state for ${name} lacks max_exp_avg_sq (AMSGrad)`);
        put(s.vmax, vmax, 'max_exp_avg_sq');
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
      s.vmax?.dispose();
    }
    this.slots.clear();
  }
}

/**
 * CosineAnnealingLR's closed form: lr(e) = lrMin + (lr0 - lrMin) (1 + cos(pi e / tMax)) / 2,
 * for epoch e (0-based; the schedule is stepped once per epoch). Past tMax it keeps following
 * the cosine, as PyTorch's does.
 */
export function cosineLr(epoch: number, lr0: number, lrMin: number, tMax: number): number {
  if (tMax <= 0) throw new OptimizerError(`cosine schedule needs T_max > 0, got ${tMax}`);
  return lrMin + ((lr0 - lrMin) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2;
}
