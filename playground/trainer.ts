// Pre-training in the page: MAE's step (src/train/pretrainStep.ts: forward, backward and AdamW with
// MAE's parameter groups, compiled once with jit) over the embedded digits, one step per call, so
// the worker can answer the page between steps. The loader and keys work as in `vitmae pretrain`;
// the learning rate warms up over WARMUP steps and then stays (a run in the page has no planned end).

import * as T from "../src/core/index.ts";
import { leaves, unflatten, type Tree } from "../src/autodiff/index.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { makeLoader, type Loader } from "../src/data/loader.ts";
import type { PreprocessOptions } from "../src/data/preprocess.ts";
import { namedParameters, type PreTrainingParams } from "../src/mae/params.ts";
import { initAdamW, type AdamWState } from "../src/nn/adamw.ts";
import { makePretrainStep } from "../src/train/pretrainStep.ts";
import type { Model } from "./look.ts";

export const WARMUP = 10;

export interface StepOutcome {
  step: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
}

export interface Trainer {
  readonly model: Model;
  readonly steps: number;
  /** One optimizer step on the next batch of `batchSize` digits; throws (changing nothing) if the loss or gradients are not finite. */
  step(lr: number, batchSize: number): Promise<StepOutcome>;
  /** Moves the parameters and optimizer state to another backend (the step recompiles there). */
  moveTo(backend: string): Promise<void>;
}

export function makeTrainer(start: Model, dataset: Dataset, prep: PreprocessOptions, seed: number): Trainer {
  const config = start.config;
  const [dataKey, maskKey] = T.random.split(T.key(seed), 2);
  let params: PreTrainingParams = start.params;
  let opt: AdamWState = initAdamW(namedParameters(params));
  let steps = 0;
  let loader: Loader | undefined;
  const compile = () =>
    makePretrainStep(config, { maskRatio: config.maskRatio, weightDecay: 0.05, betas: [0.9, 0.95], clipGrad: null });
  let compiled = compile();
  return {
    get model() {
      return { config, params };
    },
    get steps() {
      return steps;
    },
    async step(lr, batchSize) {
      const started = performance.now();
      if (loader?.batchesPerEpoch !== Math.floor(dataset.size / batchSize))
        loader = makeLoader({ dataset, batchSize, key: dataKey, preprocess: prep, augment: false, dropLast: true });
      const batch = loader.batchAt(steps);
      const rate = lr * Math.min(1, (steps + 1) / WARMUP);
      const out = compiled(
        params,
        opt,
        [T.fromArray(batch.pixels, batch.shape)],
        T.scalar(rate),
        [T.random.foldIn(maskKey, steps)],
        [undefined],
      );
      // The step is guarded on the device: a non-finite one changed nothing (donated inputs came back as they were).
      params = out.params;
      opt = out.opt;
      // Read with await: a GPU backend reads only asynchronously (one wait per step, after its work).
      const [loss, applied] = (await Promise.all([out.loss.data(), out.applied.data()])).map((v) => v[0]);
      if (applied === 0)
        throw new Error(
          `step ${steps + 1}: the ${Number.isFinite(loss) ? "gradients" : "loss"} became non-finite (loss ${loss}); ` +
            "the weights were kept as they were: lower the learning rate",
        );
      steps++;
      return { step: steps, loss, lr: rate, imagesPerSec: batchSize / ((performance.now() - started) / 1000) };
    },
    async moveTo(backend) {
      const move = async <X extends Tree>(tree: X): Promise<X> =>
        unflatten(tree, await Promise.all(leaves(tree).map((t) => T.toBackend(t, backend))));
      params = await move(params);
      opt = await move(opt);
      compiled = compile();
    },
  };
}
