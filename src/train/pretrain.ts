// The pre-training loop (MAE's main_pretrain.py / engine_pretrain.py): AdamW with MAE's parameter
// groups, lr = blr × effective batch / 256 with warmup and half-cycle cosine, gradient accumulation,
// optional clipping, checkpoints that resume exactly. Every random choice is a pure function of
// (seed, step), so a resumed run replays the uninterrupted one number for number.

import * as T from "../core/index.ts";
import type { Key } from "../core/index.ts";
import { makeLoader, type Dataset, type PreprocessOptions } from "../data/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { initPreTraining } from "../mae/init.ts";
import { namedParameters, type PreTrainingParams } from "../mae/params.ts";
import { initAdamW, type AdamWState } from "../nn/adamw.ts";
import { lrAt, type CosineSchedule } from "../nn/schedule.ts";
import { makePretrainStep } from "./pretrainStep.ts";
import { saveTrainingCheckpoint, type TrainerState } from "./trainCheckpoint.ts";

export interface PretrainHyper {
  batchSize: number;
  /** Micro-batches per optimizer step (effective batch = batchSize × accumIter). */
  accumIter: number;
  totalSteps: number;
  /** The absolute peak learning rate (already scaled from blr if that was given). */
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  clipGrad: number | null;
  maskRatio: number;
  augment: boolean;
}

export interface StepInfo {
  step: number; //       optimizer steps done, after this one
  epoch: number; //      fractional epochs seen
  loss: number;
  lr: number;
  gradNorm: number | null;
  imagesPerSec: number;
  seconds: number;
}

export interface PretrainRun {
  config: ViTMAEConfig;
  dataset: Dataset;
  dataSpec: string;
  preprocess: PreprocessOptions;
  preprocessorJson: Record<string, unknown>;
  hyper: PretrainHyper;
  seed: number;
  outDir: string;
  checkpointEvery: number;
  /** Where to start: fresh (undefined) or a loaded checkpoint. */
  resume?: { params: PreTrainingParams; opt: AdamWState; step: number };
  onStep?: (info: StepInfo) => void;
  onCheckpoint?: (path: string, step: number) => void;
  /** Polled between steps: true stops the run after saving a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
}

export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

export interface PretrainResult {
  params: PreTrainingParams;
  step: number;
  stopped: boolean;
  lastLoss: number | null;
}

/** The run's independent key streams, all derived from the seed. */
export function runKeys(seed: number): { init: Key; data: Key; mask: Key; dropout: Key } {
  const [init, data, mask, dropout] = T.random.split(T.key(seed), 4);
  return { init, data, mask, dropout };
}

export async function pretrain(run: PretrainRun): Promise<PretrainResult> {
  const { config: cfg, hyper: h } = run;
  if (h.maskRatio === 0)
    throw new Error(
      "pretrain: mask ratio 0 leaves nothing to reconstruct (the loss would be 0/0); use a ratio in (0, 1)",
    );
  const keys = runKeys(run.seed);
  const loader = makeLoader({
    dataset: run.dataset,
    batchSize: h.batchSize,
    key: keys.data,
    preprocess: run.preprocess,
    augment: h.augment,
    dropLast: run.dataset.size >= h.batchSize,
  });
  const schedule: CosineSchedule = { lr: h.lr, minLr: h.minLr, warmupSteps: h.warmupSteps, totalSteps: h.totalSteps };
  let params = run.resume?.params ?? initPreTraining(keys.init, cfg);
  let opt = run.resume?.opt ?? initAdamW(namedParameters(params));
  let step = run.resume?.step ?? 0;
  let lastLoss: number | null = null;
  let lastSaved: number | null = null; // the step of this run's newest checkpoint, if any
  const save = () => {
    const state: TrainerState = {
      step,
      totalSteps: h.totalSteps,
      seed: run.seed,
      hyper: { ...h, betas: h.betas.join(",") },
      data: run.dataSpec,
      lastLoss,
    };
    const path = saveTrainingCheckpoint(run.outDir, {
      config: cfg,
      params,
      opt,
      state,
      preprocessor: run.preprocessorJson,
    });
    lastSaved = step;
    run.onCheckpoint?.(path, step);
  };
  const trainStep = makePretrainStep(cfg, h);
  const dropoutOn = cfg.hiddenDropoutProb > 0 || cfg.attentionProbsDropoutProb > 0;

  while (step < h.totalSteps) {
    if (run.shouldStop?.()) {
      save();
      return { params, step, stopped: true, lastLoss };
    }
    const started = performance.now();
    const indices = Array.from({ length: h.accumIter }, (_, micro) => step * h.accumIter + micro);
    const pixels = indices.map((index) => {
      const batch = loader.batchAt(index);
      return T.fromArray(batch.pixels, batch.shape);
    });
    const lr = lrAt(schedule, step);
    const out = trainStep(
      params,
      opt,
      pixels,
      T.scalar(lr),
      indices.map((index) => T.random.foldIn(keys.mask, index)),
      indices.map((index) => (dropoutOn ? T.random.foldIn(keys.dropout, index) : undefined)),
    );
    // The update is guarded on the device: a non-finite step changes nothing, so the state stays good.
    params = out.params;
    opt = out.opt;
    const loss = out.loss.item();
    if (out.applied.item() === 0) {
      const what = Number.isFinite(loss) ? `the gradients became non-finite (loss ${loss})` : `the loss became ${loss}`;
      const kept =
        lastSaved !== null
          ? `The last good checkpoint (step ${lastSaved}) is kept in ${run.outDir}`
          : run.resume
            ? `No checkpoint was saved since the run resumed at step ${run.resume.step}`
            : "No checkpoint was saved before it";
      throw new NonFiniteLossError(
        `${what} at step ${step + 1}; stopping. ${kept}. Try a lower --blr, --clip-grad, or check the data.`,
      );
    }
    const gradNorm = h.clipGrad !== null ? out.gradNorm.item() : null;
    step++;
    lastLoss = loss;
    const seconds = (performance.now() - started) / 1000;
    run.onStep?.({
      step,
      epoch: (step * h.accumIter) / loader.batchesPerEpoch,
      loss,
      lr,
      gradNorm,
      imagesPerSec: (h.batchSize * h.accumIter) / seconds,
      seconds,
    });
    if (step % run.checkpointEvery === 0 || step === h.totalSteps) save();
    await new Promise((resolve) => setImmediate(resolve)); // let Ctrl-C (SIGINT) be noticed between steps
  }
  return { params, step, stopped: false, lastLoss };
}
