// Fine-tuning a classifier as MAE's main_finetune.py / engine_finetune.py: AdamW with layer-wise lr decay,
// lr = blr × effective batch / 256 with warmup and half-cycle cosine, drop path, mixup/cutmix with label
// smoothing (soft-target cross entropy), held-out top-1 every epoch, checkpoints that resume exactly. Every
// random choice is a pure function of (seed, step), so a resumed run replays the uninterrupted one. As in
// pre-training (runGuard.ts), a run that diverges stops before it saves over its last good checkpoint, and
// a run that fails otherwise (a batch, an evaluation) saves first.

import type { Either } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { valueAndGrad } from "../autodiff/index.ts";
import { jit } from "../jit/index.ts";
import { makeLoader, type Dataset, type PreprocessOptions } from "../data/index.ts";
import { DatasetError } from "../data/dataset.ts";
import { mixupBatch } from "../data/mixup.ts";
import { evaluateClassifier, type ClassifierEvaluation } from "../eval/evaluateClassifier.ts";
import { onHost } from "./onHost.ts";
import { attempt } from "../io/attempt.ts";
import { CHECKPOINT_LOAD_ERRORS, type CheckpointLoadError } from "../mae/checkpoint.ts";
import { namedParameters } from "../mae/params.ts";
import { globalNorm, initAdamW, type AdamWState } from "../nn/adamw.ts";
import { smoothedTargets, softTargetCrossEntropy } from "../nn/crossEntropy.ts";
import { adamwStepGroups, paramGroupsLrd, type ParamGroup } from "../nn/layerDecay.ts";
import { lrAt, type CosineSchedule } from "../nn/schedule.ts";
import { loadClassifier, saveClassifier } from "../vit/checkpointFolder.ts";
import type { ViTConfig } from "../vit/config.ts";
import { classify } from "../vit/forward.ts";
import { classifierFromNamed, classifierShapes, type ClassifierParams } from "../vit/params.ts";
import { finetuneFromSaved, finetuneHyperProblems, toSaved, type FinetuneHyper } from "./hyper.ts";
import type { StepInfo } from "./pretrain.ts";
import { DIVERGENCE_FACTOR, RunGuard } from "./runGuard.ts";
import {
  findTrainingCheckpoint,
  readTrainingState,
  saveTrainingCheckpoint,
  TrainCheckpointError,
  type TrainerState,
} from "./trainCheckpoint.ts";

export type { FinetuneHyper } from "./hyper.ts";

export interface FinetuneBatch {
  pixels: Tensor; //  [B, C, H, W]
  targets: Tensor; // [B, K] soft targets (mixed and smoothed)
}

export interface StepResult {
  params: ClassifierParams;
  optState: AdamWState;
  loss: number;
  gradNorm: number | null;
  /** false: the loss or a gradient was not finite, and params and optState are the ones given. */
  finite: boolean;
}

/**
 * The training step as a pure function (params, optState, batch, lr, key) → (params, optState, loss):
 * micro-batches' gradients averaged, clipped if asked, one AdamW update over MAE's layer-decay groups
 * — compiled once with jit, params and optState donated (use the returned ones). A non-finite loss
 * or gradient is caught on the device: the update is then skipped, and `finite` says so.
 */
export function makeFinetuneStep(
  cfg: ViTConfig,
  hyper: Pick<FinetuneHyper, "dropPath" | "betas" | "clipGrad">,
  groups: ReadonlyMap<string, ParamGroup>,
): (
  params: ClassifierParams,
  optState: AdamWState,
  batch: FinetuneBatch[],
  lr: number,
  key: Key,
) => Promise<StepResult> {
  const lossOf = (p: ClassifierParams, pixels: Tensor, targets: Tensor, key: Key) =>
    softTargetCrossEntropy(classify(p, cfg, pixels, { key, dropPath: hyper.dropPath }).logits, targets);
  const lossAndGrad = valueAndGrad(lossOf);
  const step = jit(
    (params: ClassifierParams, optState: AdamWState, batch: FinetuneBatch[], lr: Tensor, key: Key) => {
      let lossSum: Tensor = T.scalar(0);
      let gradSum: Map<string, Tensor> | undefined;
      batch.forEach((micro, i) => {
        const [loss, grads] = lossAndGrad(params, micro.pixels, micro.targets, T.random.foldIn(key, i));
        lossSum = T.add(lossSum, loss);
        const named = namedParameters(grads);
        gradSum = gradSum ? new Map([...gradSum].map(([n, g]) => [n, T.add(g, named.get(n)!)])) : named;
      });
      const loss = T.div(lossSum, batch.length);
      let grads = new Map([...gradSum!].map(([n, g]) => [n, batch.length === 1 ? g : T.div(g, batch.length)]));
      const gradNorm = globalNorm(grads);
      // NaN and ±∞ fail `< ∞`: one test covers the loss and every gradient.
      const applied = T.less(T.abs(T.add(loss, gradNorm)), Infinity);
      if (hyper.clipGrad !== null) {
        const scale = T.minimum(T.div(hyper.clipGrad, T.add(gradNorm, 1e-6)), 1);
        grads = new Map([...grads].map(([n, g]) => [n, T.mul(g, scale)]));
      }
      const updated = adamwStepGroups(namedParameters(params), grads, optState, groups, {
        lr,
        betas: hyper.betas,
        eps: 1e-8,
        applyIf: applied,
      });
      return { params: classifierFromNamed(cfg, updated.params), optState: updated.state, loss, gradNorm, applied };
    },
    { donate: [0, 1] },
  );
  return async (params, optState, batch, lr, key) => {
    const out = step(params, optState, batch, T.scalar(lr), key);
    // Read with await: a GPU backend reads only asynchronously (one wait per step, after its work).
    const [applied, loss, gradNorm] = (
      await Promise.all([out.applied, out.loss, out.gradNorm].map((t) => t.data()))
    ).map((v) => v[0]);
    const finite = applied !== 0;
    return {
      params: out.params,
      optState: out.optState,
      loss,
      gradNorm: finite && hyper.clipGrad !== null ? gradNorm : null,
      finite,
    };
  };
}

/** The held-out result after an epoch. */
export interface EpochInfo {
  step: number;
  epoch: number;
  accuracy: number;
  loss: number;
  count: number;
}

export interface FinetuneRun {
  config: ViTConfig;
  /** The starting parameters (a pre-trained encoder with a new head), or the resumed ones. */
  params: ClassifierParams;
  train: Dataset;
  /** Held-out data: top-1 after every epoch. */
  val?: Dataset;
  dataSpec: string;
  /** The run's other inputs that a resume must match (the held-out data, the model it started from), saved as given. */
  inputs?: TrainerState["inputs"];
  preprocess: PreprocessOptions;
  preprocessorJson: Record<string, unknown>;
  hyper: FinetuneHyper;
  seed: number;
  outDir: string;
  /** Save every N steps besides every epoch's end (default: only at epochs' ends). */
  checkpointEvery?: number;
  /** Where a resumed run starts: its optimizer state, step and running loss (absent in older checkpoints). */
  resume?: { opt: AdamWState; step: number; runningLoss?: number | null };
  onStep?: (info: StepInfo) => void;
  onEpoch?: (info: EpochInfo, evaluation: ClassifierEvaluation) => void;
  onCheckpoint?: (path: string, step: number) => void;
  /** Polled between steps: true stops the run after saving a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface FinetuneResult {
  params: ClassifierParams;
  step: number;
  stopped: boolean;
  lastLoss: number | null;
  lastEval: EpochInfo | null;
}

/** The run's independent key streams, all derived from the seed. */
export function finetuneKeys(seed: number): { head: Key; data: Key; mix: Key; drop: Key } {
  const [head, data, mix, drop] = T.random.split(T.random.foldIn(T.key(seed), 0x66696e65), 4);
  return { head, data, mix, drop };
}

/** Optimizer steps in one pass over `size` examples (the loader drops the last partial batch, as MAE's). */
export const stepsPerEpochOf = (size: number, batchSize: number, accumIter: number): number =>
  Math.floor(Math.floor(size / batchSize) / accumIter);

/**
 * The divergence rule's floor for fine-tuning (runGuard.ts): ten times the cross entropy of a uniform guess
 * over K classes, ln K. A classifier that is learning stays far below it, even on a hard batch (label
 * smoothing bounds its confidence); one blown up by a bad learning rate passes it within a step or two.
 */
export const divergenceFloorOf = (numLabels: number): number => DIVERGENCE_FACTOR * Math.log(Math.max(2, numLabels));

export async function finetune(run: FinetuneRun): Promise<FinetuneResult> {
  const { config: cfg, hyper: h } = run;
  const k = cfg.numLabels;
  const mixing = h.mixup > 0 || h.cutmix > 0;
  const problems = finetuneHyperProblems(h);
  if (problems.length > 0) throw new RangeError(`finetune: ${problems.join("; ")}`);
  const perEpoch = stepsPerEpochOf(run.train.size, h.batchSize, h.accumIter);
  if (perEpoch < 1)
    throw new DatasetError(
      `finetune: ${run.train.size} training examples make no full step of ${h.batchSize} × ${h.accumIter} images`,
    );
  const keys = finetuneKeys(run.seed);
  const loader = makeLoader({
    dataset: run.train,
    batchSize: h.batchSize,
    key: keys.data,
    preprocess: run.preprocess,
    augment: h.augment ? { scale: [h.cropScaleMin, 1], flipProbability: h.flip ? 0.5 : 0 } : false,
    dropLast: true,
  });
  const schedule: CosineSchedule = { lr: h.lr, minLr: h.minLr, warmupSteps: h.warmupSteps, totalSteps: h.totalSteps };
  const groups = paramGroupsLrd(classifierShapes(cfg), cfg.encoder.numHiddenLayers, {
    weightDecay: h.weightDecay,
    layerDecay: h.layerDecay,
  });
  const trainStep = makeFinetuneStep(cfg, h, groups);
  let params = run.params;
  let opt = run.resume?.opt ?? initAdamW(namedParameters(params));
  let step = run.resume?.step ?? 0;
  let lastLoss: number | null = null;
  let lastEval: EpochInfo | null = null;
  const guard: RunGuard = new RunGuard({
    outDir: run.outDir,
    divergenceFloor: divergenceFloorOf(k),
    resume: run.resume,
    save: async () => {
      const state: TrainerState = {
        step,
        totalSteps: h.totalSteps,
        seed: run.seed,
        hyper: toSaved(h),
        data: run.dataSpec,
        ...(run.inputs && { inputs: run.inputs }),
        lastLoss,
        runningLoss: guard.runningLoss,
      };
      const [p, hostOpt] = await onHost([params, opt] as const);
      const path = saveTrainingCheckpoint(run.outDir, {
        writeModel: (dir) => saveClassifier(dir, cfg, p),
        opt: hostOpt,
        state,
        preprocessor: run.preprocessorJson,
      });
      run.onCheckpoint?.(path, step);
    },
  });
  /** Micro-batch m of optimizer step s: its pixels and soft targets (mixed when mixup/cutmix is on). */
  const microBatch = (s: number, m: number): FinetuneBatch => {
    const epoch = Math.floor(s / perEpoch);
    const index = epoch * loader.batchesPerEpoch + (s % perEpoch) * h.accumIter + m;
    const batch = loader.batchAt(index);
    if (!batch.labels)
      throw new DatasetError(`finetune: dataset ${JSON.stringify(run.train.name)} has unlabelled examples`);
    for (const y of batch.labels)
      if (y >= k)
        throw new DatasetError(
          `finetune: label ${y} in ${JSON.stringify(run.train.name)}, but the model has ${k} classes`,
        );
    const mixed = mixing
      ? mixupBatch(batch.pixels, batch.shape, batch.labels, k, T.random.foldIn(keys.mix, index), {
          mixupAlpha: h.mixup,
          cutmixAlpha: h.cutmix,
          prob: h.mixupProb,
          switchProb: h.switchProb,
          labelSmoothing: h.smoothing,
        })
      : { pixels: batch.pixels, targets: smoothedTargets(batch.labels, k, h.smoothing) };
    return { pixels: T.fromArray(mixed.pixels, batch.shape), targets: T.fromArray(mixed.targets, [batch.shape[0], k]) };
  };

  while (step < h.totalSteps) {
    if (run.shouldStop?.()) {
      await guard.save(step);
      return { params, step, stopped: true, lastLoss, lastEval };
    }
    const started = performance.now();
    let micro: FinetuneBatch[];
    try {
      micro = Array.from({ length: h.accumIter }, (_, m) => microBatch(step, m));
    } catch (e) {
      throw await guard.failed(e, step); // nothing of this step has touched the parameters yet
    }
    const lr = lrAt(schedule, step);
    const result = await trainStep(params, opt, micro, lr, T.random.foldIn(keys.drop, step));
    // A step that was skipped (non-finite) or whose loss exploded stops the run without saving its state.
    ({ params, optState: opt } = result);
    guard.check(step, result.loss, result.finite);
    step++;
    lastLoss = result.loss;
    const seconds = (performance.now() - started) / 1000;
    run.onStep?.({
      step,
      epoch: step / perEpoch,
      loss: result.loss,
      lr,
      gradNorm: result.gradNorm,
      imagesPerSec: (h.batchSize * h.accumIter) / seconds,
      seconds,
    });
    const epochEnd = step % perEpoch === 0 || step === h.totalSteps;
    if (epochEnd && run.val) {
      let evaluation: ClassifierEvaluation;
      try {
        evaluation = await evaluateClassifier(params, cfg, run.val, {
          preprocess: run.preprocess,
          batchSize: h.batchSize,
        });
      } catch (e) {
        throw await guard.failed(e, step, `while evaluating the held-out data after step ${step}`);
      }
      lastEval = {
        step,
        epoch: step / perEpoch,
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
        count: evaluation.count,
      };
      run.onEpoch?.(lastEval, evaluation);
    }
    if (epochEnd || (run.checkpointEvery !== undefined && step % run.checkpointEvery === 0)) await guard.save(step);
    await new Promise((resolve) => setImmediate(resolve)); // let Ctrl-C and SIGTERM be noticed between steps
  }
  return { params, step, stopped: false, lastLoss, lastEval };
}

/** A saved fine-tuning run: the classifier, the optimizer moments and the trainer state, each checked. */
export interface SavedFinetune {
  config: ViTConfig;
  params: ClassifierParams;
  opt: AdamWState;
  state: TrainerState;
  path: string;
}

/** A saved fine-tuning run, every part checked (the hyperparameters by fine-tuning's rules). */
export function loadFinetuneCheckpoint(dir: string): SavedFinetune {
  const path = findTrainingCheckpoint(dir);
  const { config, params } = loadClassifier(path);
  const hyperProblems = (hyper: unknown) => finetuneFromSaved(hyper).problems;
  return { config, params, ...readTrainingState(path, namedParameters(params), hyperProblems), path };
}

/** `loadFinetuneCheckpoint` without throwing: the run's saved state, or why it cannot be continued. */
export function tryLoadFinetuneCheckpoint(
  dir: string,
): Either<TrainCheckpointError | CheckpointLoadError, SavedFinetune> {
  return attempt(() => loadFinetuneCheckpoint(dir), [TrainCheckpointError, ...CHECKPOINT_LOAD_ERRORS]);
}
