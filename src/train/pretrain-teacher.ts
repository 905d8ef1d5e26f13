import type { PreparedPretrain, PretrainResult } from './pretrain';
import type { RunDir } from './run-dir';
import { TrainError } from './errors';

/** Contrastive training of an ANN CLIP teacher (filled in with the CLIP presets). */
export async function executeTeacherPretrain(_p: PreparedPretrain, _run: RunDir): Promise<PretrainResult> {
  throw new TrainError('--target teacher is not wired yet', 'E_NOT_AVAILABLE');
}
