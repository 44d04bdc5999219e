// The pre-training loop (MAE's main_pretrain.py / engine_pretrain.py): AdamW with MAE's parameter
// groups, lr = blr × effective batch / 256 with warmup and half-cycle cosine, gradient accumulation,
// optional clipping, checkpoints that resume exactly. Every random choice is a pure function of
// (seed, step), so a resumed run replays the uninterrupted one number for number. A run that diverges
// stops before it saves over its last good checkpoint; a run that fails otherwise saves first.

import * as T from "../core/index.ts";
import type { Key } from "../core/index.ts";
import { makeLoader, type Dataset, type PreprocessOptions } from "../data/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { initPreTraining } from "../mae/init.ts";
import { namedParameters, type PreTrainingParams } from "../mae/params.ts";
import { initAdamW, type AdamWState } from "../nn/adamw.ts";
import { lrAt, type CosineSchedule } from "../nn/schedule.ts";
import type { PlanMemory } from "../jit/index.ts";
import { makePretrainStep } from "./pretrainStep.ts";
import { hyperProblems, toSaved, type PretrainHyper } from "./hyper.ts";
import { onHost } from "./onHost.ts";
import { RunGuard } from "./runGuard.ts";
import { saveTrainingCheckpoint, type TrainerState } from "./trainCheckpoint.ts";

export type { PretrainHyper } from "./hyper.ts";
export { DIVERGENCE_FACTOR, DivergenceError, NonFiniteLossError, StepFailedError } from "./runGuard.ts";

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
  /** Where to start: fresh (undefined) or a loaded checkpoint (with its running loss, if saved). */
  resume?: { params: PreTrainingParams; opt: AdamWState; step: number; runningLoss?: number | null };
  onStep?: (info: StepInfo) => void;
  onCheckpoint?: (path: string, step: number) => void;
  /** Called once the training step is compiled, before it first runs: its kernels and the memory it needs. */
  onCompiled?: (info: { kernels: number } & PlanMemory) => void;
  /** Polled between steps: true stops the run after saving a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
}

/** The divergence rule's floor for pre-training (see runGuard.ts): a normalised-pixel MSE over 1. */
export const DIVERGENCE_FLOOR = 1;

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
  const problems = hyperProblems(h);
  if (problems.length > 0) throw new RangeError(`pretrain: ${problems.join("; ")}`);
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
  const guard: RunGuard = new RunGuard({
    outDir: run.outDir,
    divergenceFloor: DIVERGENCE_FLOOR,
    resume: run.resume,
    save: async () => {
      const state: TrainerState = {
        step,
        totalSteps: h.totalSteps,
        seed: run.seed,
        hyper: toSaved(h),
        data: run.dataSpec,
        lastLoss,
        runningLoss: guard.runningLoss,
      };
      const [hostParams, hostOpt] = await onHost([params, opt] as const);
      const path = saveTrainingCheckpoint(run.outDir, {
        config: cfg,
        params: hostParams,
        opt: hostOpt,
        state,
        preprocessor: run.preprocessorJson,
      });
      run.onCheckpoint?.(path, step);
    },
  });
  const trainStep = makePretrainStep(cfg, h);
  const dropoutOn = cfg.hiddenDropoutProb > 0 || cfg.attentionProbsDropoutProb > 0;

  while (step < h.totalSteps) {
    if (run.shouldStop?.()) {
      await guard.save(step);
      return { params, step, stopped: true, lastLoss };
    }
    const started = performance.now();
    const indices = Array.from({ length: h.accumIter }, (_, micro) => step * h.accumIter + micro);
    let pixels: T.Tensor[];
    try {
      pixels = indices.map((index) => {
        const batch = loader.batchAt(index);
        return T.fromArray(batch.pixels, batch.shape);
      });
    } catch (e) {
      throw await guard.failed(e, step); // nothing of this step has touched the parameters yet
    }
    const lr = lrAt(schedule, step);
    const args = [
      params,
      opt,
      pixels,
      T.scalar(lr),
      indices.map((index) => T.random.foldIn(keys.mask, index)),
      indices.map((index) => (dropoutOn ? T.random.foldIn(keys.dropout, index) : undefined)),
    ] as const;
    if (trainStep.traces === 0 && run.onCompiled) {
      const memory = trainStep.lower(...args); // the plan, and the memory a step needs, before it runs
      run.onCompiled({ kernels: trainStep.kernelCount() ?? 0, ...memory });
    }
    const out = trainStep(...args);
    // The update is guarded on the device (a parameter whose gradient is not finite keeps its value);
    // a step that was not applied whole, or whose loss exploded, stops the run without saving its state.
    params = out.params;
    opt = out.opt;
    // Read with await: a GPU backend reads only asynchronously (one wait per step, after its work).
    const [loss, applied, norm] = (await Promise.all([out.loss, out.applied, out.gradNorm].map((t) => t.data()))).map(
      (v) => v[0],
    );
    guard.check(step, loss, applied !== 0);
    const gradNorm = h.clipGrad !== null ? norm : null;
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
    if (step % run.checkpointEvery === 0 || step === h.totalSteps) await guard.save(step);
    await new Promise((resolve) => setImmediate(resolve)); // let Ctrl-C (SIGINT) be noticed between steps
  }
  return { params, step, stopped: false, lastLoss };
}
