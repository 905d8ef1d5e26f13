/**
 * The budgets of `spikeclip demo`: how long each stage trains, for the default run and for
 * `--quick` (what the tests run). Measured on a shared 2-core machine (wasm backend, docs/demo.md):
 * the ANN teacher is the slow part (a clip-tiny step of 32 pairs takes about 0.35 s there), the
 * spiking text encoder is cheap (144 prompts, one step per epoch), so it gets many epochs.
 */
import * as path from 'path';

/** The built-in sets the demo runs on; the first is the default (the easier one: docs/demo.md). */
export const DEMO_DATASETS = ['shapes-simple', 'shapes'] as const;
export type DemoDataset = (typeof DEMO_DATASETS)[number];

export const DEMO_STAGES = ['teacher', 'align-text', 'align-image', 'finetune', 'eval', 'energy'] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];

export interface TrainBudget {
  epochs: number;
  batchSize: number;
  lr: number;
  lrMin: number;
  /** Linear warm-up steps (0: none). */
  warmupSteps?: number;
  /** Optimiser steps in all (stops the run early; a checkpoint is saved there). */
  maxSteps?: number;
  /** Contrastive stage: the text tower's learning rate as a fraction of lr. */
  textLrScale?: number;
}

export interface DemoBudget {
  teacher: TrainBudget;
  text: TrainBudget;
  image: TrainBudget;
  finetune: TrainBudget;
  /** Test images per evaluation (undefined: the whole test split, 360 images). */
  evalLimit?: number;
  /** Images the energy report counts spikes on. */
  energySamples: number;
}

/** The default run: sized to finish in about five minutes on 2 cores (docs/demo.md has the measurements). */
export const DEMO_BUDGET: Readonly<DemoBudget> = Object.freeze({
  teacher: { epochs: 8, batchSize: 32, lr: 3e-3, lrMin: 1e-4, warmupSteps: 40 },
  text: { epochs: 150, batchSize: 144, lr: 5e-3, lrMin: 5e-4 },
  image: { epochs: 1, batchSize: 32, lr: 5e-3, lrMin: 5e-4 },
  finetune: { epochs: 1, batchSize: 32, lr: 5e-4, lrMin: 1e-5 },
  energySamples: 32,
});

/** `--quick`: a smoke run of every stage (tests), far too short to learn much. */
export const DEMO_QUICK_BUDGET: Readonly<DemoBudget> = Object.freeze({
  teacher: { epochs: 1, batchSize: 32, lr: 3e-3, lrMin: 1e-4, warmupSteps: 5, maxSteps: 30 },
  text: { epochs: 40, batchSize: 144, lr: 5e-3, lrMin: 5e-4 },
  image: { epochs: 1, batchSize: 32, lr: 5e-3, lrMin: 5e-4, maxSteps: 20 },
  finetune: { epochs: 1, batchSize: 32, lr: 5e-4, lrMin: 1e-5, maxSteps: 20 },
  evalLimit: 72,
  energySamples: 4,
});

/** `runs/demo-YYYY-MM-DD` (UTC), under the current folder. */
export function defaultDemoOut(now: Date = new Date()): string {
  return path.join('runs', `demo-${now.toISOString().slice(0, 10)}`);
}

/** Where each stage writes inside the demo's run folder. */
export function demoLayout(root: string) {
  return {
    root,
    teacher: path.join(root, 'teacher'),
    alignText: path.join(root, 'align-text'),
    alignImage: path.join(root, 'align-image'),
    finetune: path.join(root, 'finetune'),
    eval: path.join(root, 'eval'),
    energy: path.join(root, 'energy'),
    summary: path.join(root, 'summary.json'),
  };
}
export type DemoLayout = ReturnType<typeof demoLayout>;
