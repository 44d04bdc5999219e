// `vitmae probe`: how linearly separable (and how k-NN-classifiable) a frozen encoder's features are,
// for the CLS token and the mean-pooled patch tokens (MAE main_linprobe.py, DINO eval_knn.py).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { DatasetError, subsetDataset, type Dataset } from "../data/dataset.ts";
import { tryParseDataSpec } from "../data/parseDataSpec.ts";
import { preprocessOptions } from "../data/preprocess.ts";
import { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
import { splitDataset } from "../data/splitDataset.ts";
import { encoderFeatures } from "../eval/features.ts";
import { knn, linearProbe, standardize } from "../eval/probe.ts";
import { writeJsonAtomic } from "../node/atomicWrite.ts";
import { tryLoadEncoder } from "../mae/checkpointFolder.ts";
import { ViTMAEModel } from "../mae/models.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, numberFlag, orFail, required, type Command } from "./command.ts";
import { checkOutputPath, checkpointDir } from "./paths.ts";

const CMD = "probe";

export interface ProbeReport {
  model: string;
  data: string;
  seed: number;
  trainSize: number;
  testSize: number;
  numClasses: number;
  featureDim: number;
  epochs: number;
  k: number;
  /** Held-out accuracy in [0, 1]. */
  accuracy: { cls: { linear: number; knn: number }; meanPool: { linear: number; knn: number } };
}

export const probeCommand: Command = {
  name: CMD,
  summary: "linear-probe and k-NN accuracy of the frozen encoder's CLS and mean-pooled features",
  usage: `vitmae probe --model DIR --data SPEC [flags]

Encodes every image with all patches visible (mask ratio 0), takes the last hidden state (after the
encoder's final LayerNorm) as the CLS token and as the mean of the patch tokens, standardises both
with the train split's mean/std (MAE's BatchNorm without affine), then trains a softmax linear
classifier (AdamW, cross-entropy) and runs a weighted k-NN (cosine, temperature 0.07, DINO's vote)
on the train split, and reports accuracy on the held-out split. Needs a labelled dataset.

  --model DIR             checkpoint folder, or a \`vitmae pretrain\` output folder (its checkpoint/)
  --data SPEC             labelled data: mnist, idx:PATH, or a folder with one subfolder per class
  --train-fraction F      fraction of the examples used for training (default 0.8), the rest held out
  --seed N                seed of the split, the subset, the head's init and shuffling (default 0)
  --epochs E              linear-probe epochs (default 30)
  --lr LR                 linear-probe AdamW learning rate (default 0.01)
  --k K                   neighbours for k-NN (default 20)
  --limit N               use a seeded random N examples of the dataset (for quick runs)
  --batch-size B          images per encoder call when computing features (default 128)
  --json FILE             also write the results as JSON (atomically; never inside a checkpoint folder)
  --overwrite             replace --json if it exists
${backendUsage(26)}`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    "train-fraction": { type: "string" },
    seed: { type: "string" },
    epochs: { type: "string" },
    lr: { type: "string" },
    k: { type: "string" },
    limit: { type: "string" },
    "batch-size": { type: "string" },
    json: { type: "string" },
    overwrite: { type: "boolean" },
    ...BACKEND_OPTION,
  },
  async run(values) {
    const modelFlag = required(values, "model", CMD);
    const dataSpec = required(values, "data", CMD);
    const trainFraction = numberFlag(values, "train-fraction", CMD, 0, 1) ?? 0.8;
    if (trainFraction === 0 || trainFraction === 1)
      throw new CliError(`vitmae ${CMD}: --train-fraction must be strictly between 0 and 1, got ${trainFraction}`, 2);
    const seed = intFlag(values, "seed", CMD, 0);
    const epochs = intFlag(values, "epochs", CMD, 30, 1);
    const lr = numberFlag(values, "lr", CMD, 1e-8, 10) ?? 1e-2;
    const k = intFlag(values, "k", CMD, 20, 1);
    const limit = values.limit === undefined ? undefined : intFlag(values, "limit", CMD, 0, 2);
    const batchSize = intFlag(values, "batch-size", CMD, 128, 1);
    const jsonPath = values.json as string | undefined;
    if (jsonPath !== undefined) checkOutputPath(jsonPath, CMD, values.overwrite === true);

    await useBackend(values, CMD);
    const modelDir = checkpointDir(modelFlag, CMD);
    const { config, params } = orFail(CMD, tryLoadEncoder(modelDir));
    const encoder = new ViTMAEModel(config, params);
    const cfg = encoder.config;
    const prep = preprocessOptions(readPreprocessorConfig(modelDir), {
      height: cfg.imageSize[0],
      width: cfg.imageSize[1],
      channels: cfg.numChannels,
    });

    const [subsetKey, splitKey, probeKey] = T.random.split(T.key(seed), 3);
    let dataset = orFail(CMD, tryParseDataSpec(dataSpec));
    const numClasses = dataset.numClasses;
    if (numClasses === undefined) {
      throw new CliError(
        `vitmae ${CMD}: dataset ${JSON.stringify(dataSpec)} has no labels; probing needs classes ` +
          "(a folder with one subfolder per class, IDX files with labels, or mnist)",
      );
    }
    if (numClasses < 2)
      throw new CliError(
        `vitmae ${CMD}: dataset ${JSON.stringify(dataSpec)} has ${numClasses} class; probing needs at least 2`,
      );
    if (limit !== undefined && limit < dataset.size) dataset = await randomSubset(dataset, limit, subsetKey);
    const { train, test } = splitDataset(dataset, 1 - trainFraction, splitKey);

    console.log(
      `features of ${train.size} train + ${test.size} held-out examples (${numClasses} classes, ${cfg.hiddenSize}-dim) ...`,
    );
    const feature = (d: Dataset) =>
      withDatasetErrors(() => encoderFeatures(encoder, d, { preprocess: prep, batchSize }));
    const trainF = await feature(train);
    const testF = await feature(test);
    const evaluate = async (trainX: Tensor, testX: Tensor) => {
      const [a, b] = standardize(trainX, testX);
      return {
        linear: await linearProbe(a, trainF.labels, b, testF.labels, { numClasses, epochs, lr, key: probeKey }),
        knn: await knn(a, trainF.labels, b, testF.labels, { numClasses, k }),
      };
    };
    const report: ProbeReport = {
      model: modelDir,
      data: dataSpec,
      seed,
      trainSize: train.size,
      testSize: test.size,
      numClasses,
      featureDim: cfg.hiddenSize,
      epochs,
      k,
      accuracy: {
        cls: await evaluate(trainF.cls, testF.cls),
        meanPool: await evaluate(trainF.meanPool, testF.meanPool),
      },
    };
    console.log(table(report));
    if (jsonPath !== undefined) {
      writeJsonAtomic(jsonPath, report);
      console.log(`wrote ${jsonPath}`);
    }
  },
};

/** A seeded random `n` examples, kept in dataset order (a prefix of a class-sorted folder would be one class). */
async function randomSubset(dataset: Dataset, n: number, key: T.Key): Promise<Dataset> {
  const picked = (await T.random.permutation(key, dataset.size).data()).subarray(0, n).sort();
  return subsetDataset(dataset, Array.from(picked), `${dataset.name}[${n} of ${dataset.size}]`);
}

/** A missing label surfaces while features are computed: make it the one clear line. */
async function withDatasetErrors<A>(f: () => Promise<A>): Promise<A> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof DatasetError) throw new CliError(`vitmae ${CMD}: ${e.message}`);
    throw e;
  }
}

function table(r: ProbeReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`.padStart(11);
  return [
    `held-out accuracy (${r.testSize} examples, chance ${(100 / r.numClasses).toFixed(1)}%)`,
    `              ${"linear".padStart(11)}${`k-NN k=${Math.min(r.k, r.trainSize)}`.padStart(11)}`,
    `  CLS token   ${pct(r.accuracy.cls.linear)}${pct(r.accuracy.cls.knn)}`,
    `  mean-pool   ${pct(r.accuracy.meanPool.linear)}${pct(r.accuracy.meanPool.knn)}`,
  ].join("\n");
}
