// The pre-training loop (MAE's main_pretrain.py / engine_pretrain.py): AdamW with MAE's parameter
// groups, lr = blr × effective batch / 256 with warmup and half-cycle cosine, gradient accumulation,
// optional clipping, checkpoints that resume exactly. Every random choice is a pure function of
// (seed, step), so a resumed run replays the uninterrupted one number for number.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { valueAndGrad } from "../autodiff/index.ts";
import { makeLoader, type Dataset, type PreprocessOptions } from "../data/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { forward } from "../mae/forward.ts";
import { initPreTraining } from "../mae/init.ts";
import { FROZEN_PARAMETERS, namedParameters, parametersFromNamed, type PreTrainingParams } from "../mae/params.ts";
import { adamwStep, clipGradNorm, initAdamW, maeDecay, type AdamWState } from "../nn/adamw.ts";
import { lrAt, type CosineSchedule } from "../nn/schedule.ts";
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
  const frozen = new Set<string>(FROZEN_PARAMETERS);
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
  const lossOf = (p: PreTrainingParams, pixels: Tensor, maskKey: Key, dropoutKey: Key | undefined) =>
    forward(p, cfg, pixels, { key: maskKey, maskRatio: h.maskRatio, dropoutKey }).loss;
  const lossAndGrad = valueAndGrad(lossOf);
  const dropoutOn = cfg.hiddenDropoutProb > 0 || cfg.attentionProbsDropoutProb > 0;

  while (step < h.totalSteps) {
    if (run.shouldStop?.()) {
      save();
      return { params, step, stopped: true, lastLoss };
    }
    const started = performance.now();
    let lossSum = 0;
    let gradSum: Map<string, Tensor> | undefined;
    for (let micro = 0; micro < h.accumIter; micro++) {
      const index = step * h.accumIter + micro;
      const batch = loader.batchAt(index);
      const pixels = T.fromArray(batch.pixels, batch.shape);
      const [loss, grads] = lossAndGrad(
        params,
        pixels,
        T.random.foldIn(keys.mask, index),
        dropoutOn ? T.random.foldIn(keys.dropout, index) : undefined,
      );
      lossSum += loss.item();
      const named = namedParameters(grads);
      gradSum = gradSum ? new Map([...gradSum].map(([n, g]) => [n, T.add(g, named.get(n)!)])) : named;
    }
    const loss = lossSum / h.accumIter;
    // Frozen tables get no gradient in torch (requires_grad=False), so they count in no clipping norm.
    const trainable = [...gradSum!].filter(([n]) => !frozen.has(n));
    const finiteGrads = trainable.every(([, g]) => g.toArray().every(Number.isFinite));
    if (!Number.isFinite(loss) || !finiteGrads) {
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
    let grads = new Map(h.accumIter === 1 ? trainable : trainable.map(([n, g]) => [n, T.div(g, h.accumIter)]));
    let gradNorm: number | null = null;
    if (h.clipGrad !== null) {
      const clipped = clipGradNorm(grads, h.clipGrad);
      grads = clipped.grads;
      gradNorm = clipped.norm.item();
    }
    const lr = lrAt(schedule, step);
    const updated = adamwStep(
      namedParameters(params),
      grads,
      opt,
      { betas: h.betas, eps: 1e-8, weightDecay: h.weightDecay },
      { lr, decay: maeDecay, frozen, donateState: true },
    );
    params = parametersFromNamed<PreTrainingParams>(cfg, updated.params);
    opt = updated.state;
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
