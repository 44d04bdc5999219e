// `vitmae eval`: a classifier's top-1 accuracy on labelled data, and its confusion matrix as a PNG.

import { resolve } from "node:path";
import * as T from "../core/index.ts";
import { DatasetError, subsetDataset } from "../data/dataset.ts";
import { tryParseDataSpec } from "../data/parseDataSpec.ts";
import { preprocessOptions } from "../data/preprocess.ts";
import { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
import { evaluateClassifier } from "../eval/evaluateClassifier.ts";
import { ImageError } from "../io/image.ts";
import { whyTooLarge } from "../mae/footprint.ts";
import { writeJsonAtomic } from "../node/atomicWrite.ts";
import { classifierModel } from "../vit/checkpoint.ts";
import { isClassifierFolder, tryLoadClassifier } from "../vit/checkpointFolder.ts";
import { writeConfusionPng } from "../viz/confusion.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, orFail, required, type Command } from "./command.ts";
import { machineMemory } from "./machineMemory.ts";
import { checkOutputPath, checkpointDir } from "./paths.ts";
import { readableData } from "./readableData.ts";

const CMD = "eval";

export const evalCommand: Command = {
  name: CMD,
  summary: "a classifier's top-1 accuracy on labelled data, with a confusion-matrix PNG",
  usage: `vitmae eval --model DIR --data SPEC [flags]

Runs a ViTForImageClassification checkpoint (a \`vitmae finetune\` output folder, or transformers') on every
image of the data with the checkpoint's preprocessing, and prints top-1 accuracy and mean cross entropy.

  --model DIR          a classifier checkpoint folder, or a \`vitmae finetune\` output folder (its checkpoint/)
  --data SPEC          labelled data: mnist, idx:PATH, or a folder with one subfolder per class; an image
                       folder's files are checked first and every unreadable one is named
  --skip-bad-images    leave out unreadable images (counted) instead of stopping
  --out FILE           the confusion-matrix PNG (default confusion.png)
  --json FILE          also write the results (accuracy, loss, confusion matrix) as JSON
  --overwrite          replace an existing --out or --json file (never one inside a checkpoint folder)
  --limit N            use a seeded random N examples (quick runs)
  --seed N             seed of --limit's choice (default 0)
  --batch-size B       images per forward pass (default 64)
${backendUsage(23)}`,
  options: {
    model: { type: "string" },
    data: { type: "string" },
    out: { type: "string" },
    limit: { type: "string" },
    seed: { type: "string" },
    "batch-size": { type: "string" },
    json: { type: "string" },
    overwrite: { type: "boolean" },
    "skip-bad-images": { type: "boolean" },
    ...BACKEND_OPTION,
  },
  async run(values) {
    const modelFlag = required(values, "model", CMD);
    const dataSpec = required(values, "data", CMD);
    const out = typeof values.out === "string" ? values.out : "confusion.png";
    const overwrite = values.overwrite === true;
    checkOutputPath(out, CMD, overwrite);
    const jsonPath = values.json as string | undefined;
    if (jsonPath !== undefined) {
      if (resolve(jsonPath) === resolve(out))
        throw new CliError(`vitmae ${CMD}: --json and --out are both ${out}; give two files`, 2);
      checkOutputPath(jsonPath, CMD, overwrite);
    }
    const batchSize = intFlag(values, "batch-size", CMD, 64, 1);
    await useBackend(values, CMD);
    const modelDir = checkpointDir(modelFlag, CMD);
    if (!isClassifierFolder(modelDir))
      throw new CliError(
        `vitmae ${CMD}: ${modelDir} holds a ViTMAE model, not a classifier: fine-tune it first (vitmae finetune)`,
      );
    const { config, params } = orFail(CMD, tryLoadClassifier(modelDir));
    const tooLarge = whyTooLarge(
      config.encoder,
      { training: false, batchSize, budgetBytes: machineMemory() },
      classifierModel(config),
    );
    if (tooLarge !== undefined)
      throw new CliError(`vitmae ${CMD}: cannot run this model (--batch-size ${batchSize}): ${tooLarge}`);
    let data = orFail(CMD, tryParseDataSpec(dataSpec));
    if (data.numClasses === undefined)
      throw new CliError(`vitmae ${CMD}: dataset ${JSON.stringify(dataSpec)} has no labels`);
    if (data.numClasses !== config.numLabels)
      throw new CliError(
        `vitmae ${CMD}: dataset ${JSON.stringify(dataSpec)} has ${data.numClasses} classes, the model ${config.numLabels}`,
      );
    const limit = values.limit === undefined ? undefined : intFlag(values, "limit", CMD, 0, 1);
    if (limit !== undefined && limit < data.size) {
      const key = T.random.foldIn(T.key(intFlag(values, "seed", CMD, 0)), 0x6576616c);
      const order = Array.from(T.random.permutation(key, data.size, { backend: "reference" }).toArray()).slice(
        0,
        limit,
      );
      data = subsetDataset(
        data,
        order.sort((a, b) => a - b),
        `${data.name}[${limit}]`,
      );
    }
    const opts = { cmd: CMD, flag: "--data", spec: dataSpec, skipBad: values["skip-bad-images"] === true };
    data = readableData(data, { ...opts, training: false });
    const e = config.encoder;
    const preprocess = preprocessOptions(readPreprocessorConfig(modelDir), {
      height: e.imageSize[0],
      width: e.imageSize[1],
      channels: e.numChannels,
    });
    let result: Awaited<ReturnType<typeof evaluateClassifier>>;
    try {
      result = await evaluateClassifier(params, config, data, { preprocess, batchSize });
    } catch (err) {
      if (err instanceof DatasetError) throw new CliError(`vitmae ${CMD}: ${err.message}`);
      // A file the scan passed that fails when decoded: nothing was written.
      if (err instanceof ImageError) throw new CliError(`vitmae ${CMD}: ${err.message}; fix or remove the file`);
      throw err;
    }
    writeConfusionPng(
      out,
      result.confusion,
      config.id2label,
      `${data.name}: top-1 ${(100 * result.accuracy).toFixed(2)}%`,
    );
    console.log(
      `top-1 accuracy ${(100 * result.accuracy).toFixed(2)}% on ${result.count} images (${config.numLabels} classes), ` +
        `mean cross entropy ${result.loss.toFixed(4)}; confusion matrix in ${out}`,
    );
    if (jsonPath !== undefined)
      writeJsonAtomic(jsonPath, { model: modelDir, data: dataSpec, ...result, classes: config.id2label });
  },
};
