/**
 * Backpropagation that frees memory as it goes.
 *
 * tfjs-core 4.22's `engine.gradients` keeps, until the whole backward pass ends, every tensor
 * saved for the backward pass and the gradient of every intermediate tensor, so a training step
 * peaks at about all activations plus all their gradients (the image encoder at batch 8 grew the
 * wasm heap from 0.8 GB after the forward pass to 1.85 GB). This is the same algorithm (the
 * same filtered tape, the same order, the same accumulation, hence the same gradients) with two
 * releases per tape node once its gradient has been computed:
 * - the tensors the node saved for its gradient (first-order gradients only: a higher-order
 *   gradient may backpropagate through the node again);
 * - the gradients of the node's outputs, unless they are also held as the gradient of another
 *   tensor (a gradient function may pass dy through unchanged) or were passed in by the caller.
 * `installFrugalBackprop` replaces the method on the engine instance; `uninstallFrugalBackprop`
 * puts tfjs-core's back.
 */
import * as tf from '../../tf';
import type { Tensor } from '../../tf';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: Tensor[];
  inputs: Record<string, Tensor>;
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
  saved?: Tensor[];
}

interface EngineLike {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients: GradientsFn;
}
type GradientsFn = (f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean) => { value: Tensor; grads: Tensor[] };

/** The nodes of `tape` on a path from one of `xs` to `y`, with inputs pruned to those from xs (tfjs-core's). */
export function filteredNodesXToY(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const tensorsFromX: Record<number, boolean> = {};
  const nodesFromX: Record<number, boolean> = {};
  for (const x of xs) tensorsFromX[x.id] = true;
  for (const node of tape) {
    for (const inputName in node.inputs) {
      if (tensorsFromX[node.inputs[inputName].id]) {
        for (const o of node.outputs) tensorsFromX[o.id] = true;
        nodesFromX[node.id] = true;
        break;
      }
    }
  }
  const tensorsLeadToY: Record<number, boolean> = { [y.id]: true };
  const nodesToY: Record<number, boolean> = {};
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => tensorsLeadToY[o.id])) {
      for (const inputName in node.inputs) {
        tensorsLeadToY[node.inputs[inputName].id] = true;
        nodesToY[node.id] = true;
      }
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX[node.id] || !nodesToY[node.id]) continue;
    const inputs: Record<string, Tensor> = {};
    for (const inputName in node.inputs) if (tensorsFromX[node.inputs[inputName].id]) inputs[inputName] = node.inputs[inputName];
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

function frugalGradients(engine: EngineLike): GradientsFn {
  return (f, xs, dy, allowNoGradients = false) => {
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape ?? [];
    const filtered = filteredNodesXToY(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    const firstOrder = engine.state.gradientDepth === 0;
    return engine.tidy('backward', () => {
      const grads: Record<number, Tensor> = {};
      // how many entries of `grads` hold each tensor object
      const holds = new Map<Tensor, number>();
      const hold = (t: Tensor) => holds.set(t, (holds.get(t) ?? 0) + 1);
      const release = (t: Tensor) => {
        const n = (holds.get(t) ?? 0) - 1;
        if (n > 0) holds.set(t, n);
        else holds.delete(t);
      };
      const seed = dy ?? tf.ones(y.shape);
      grads[y.id] = seed;
      hold(seed);
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i];
        const dys = node.outputs.map((o) => grads[o.id] ?? null);
        if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const inputGradients = node.gradient(dys);
        for (const inputName in node.inputs) {
          if (!(inputName in inputGradients)) {
            throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
          }
          const dx = engine.tidy(() => inputGradients[inputName]());
          if (dx.dtype !== 'float32') {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
          }
          const x = node.inputs[inputName];
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const cur = grads[x.id];
          if (cur == null) {
            grads[x.id] = dx;
            hold(dx);
          } else {
            const sum = tf.add(cur, dx);
            grads[x.id] = sum;
            hold(sum);
            release(cur);
            if (!holds.has(cur) && cur !== dy) cur.dispose();
            if (!holds.has(dx) && dx !== dy) dx.dispose();
          }
        }
        // This node is done: its outputs' gradients and its saved tensors are not needed again.
        for (const o of node.outputs) {
          const g = grads[o.id];
          if (g == null) continue;
          delete grads[o.id];
          release(g);
          if (!holds.has(g) && g !== dy) g.dispose();
        }
        if (firstOrder && node.saved) {
          for (const t of node.saved) if (!holds.has(t)) t.dispose();
        }
      }
      const result = xs.map((x) => grads[x.id]);
      if (firstOrder) {
        for (const node of tape) for (const t of node.saved ?? []) if (!holds.has(t)) t.dispose();
        engine.state.activeTape = null;
      }
      return { value: y, grads: result };
    });
  };
}

let original: GradientsFn | undefined;
let installed: GradientsFn | undefined;

/** Replaces the engine's `gradients` with the frugal one (idempotent). */
export function installFrugalBackprop(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (installed && engine.gradients === installed) return;
  original = engine.gradients;
  installed = frugalGradients(engine);
  engine.gradients = installed;
}

/** Puts tfjs-core's `gradients` back. */
export function uninstallFrugalBackprop(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (installed && engine.gradients === installed && original) {
    engine.gradients = original;
    // the prototype's method: drop the own property entirely
    delete (engine as unknown as Record<string, unknown>).gradients;
  }
  installed = undefined;
}
