/**
 * The training state a checkpoint carries for `--resume`: the loop's state and the optimiser's
 * step in training_state.json, Adam's moments (and task state) in training_state.safetensors.
 */
import type { TensorData } from '../snn/module';
import { TrainError } from './errors';
import { parseLoopState, type LoopState } from './loop';
import type { Adam } from './optimizer';

/** What goes into training_state.json. */
export function trainingInfo(state: LoopState, optimizer: Adam, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { loop: state, optimizerStep: optimizer.step, ...extra };
}

/** Restores the optimiser from a checkpoint's training state and returns the loop state to continue from. */
export function restoreTrainingState(optimizer: Adam, tensors: Map<string, TensorData> | undefined, info: Record<string, unknown> | undefined, where: string): LoopState {
  const i = info as { loop?: unknown; optimizerStep?: unknown } | undefined;
  if (!i || typeof i.optimizerStep !== 'number') {
    throw new TrainError(`${where}: the training state is missing or damaged`, 'E_RESUME', 'resume from a checkpoint written by spikeclip pretrain or finetune');
  }
  let state: LoopState;
  try {
    state = parseLoopState(i.loop, where);
  } catch (e) {
    throw new TrainError((e as Error).message, 'E_RESUME', 'resume from a checkpoint written by spikeclip pretrain or finetune');
  }
  optimizer.loadStateTensors(tensors ?? new Map(), i.optimizerStep);
  return state;
}
