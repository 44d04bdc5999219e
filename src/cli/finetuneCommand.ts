// `vitmae finetune`: MAE's fine-tuning recipe (main_finetune.py) from one command, with checkpoints, a log,
// held-out top-1 every epoch, clean Ctrl-C and exact resume.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as T from "../core/index.ts";
import { DatasetError, subsetDataset, type Dataset } from "../data/dataset.ts";
import { parseDataSpec } from "../data/parseDataSpec.ts";
import { preprocessOptions } from "../data/preprocess.ts";
import { toPreprocessorJson } from "../data/preprocessorConfig.ts";
import { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
import { splitDataset } from "../data/splitDataset.ts";
import { RUN_FOLDER } from "../mae/checkpointNames.ts";
import { scaledLr } from "../nn/schedule.ts";
import {
  finetune,
  finetuneKeys,
  loadFinetuneCheckpoint,
  stepsPerEpochOf,
  type EpochInfo,
  type FinetuneHyper,
} from "../train/finetune.ts";
import { NonFiniteLossError } from "../train/pretrain.ts";
import { makeProgress } from "../train/progress.ts";
import { RunLog } from "../train/runLog.ts";
import { isClassifierFolder, loadClassifier } from "../vit/checkpointFolder.ts";
import { BACKEND_OPTION, BACKEND_USAGE, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, numberFlag, required, type Command } from "./command.ts";
import { checkpointDir } from "./paths.ts";
import { checkSameRun, refuseToOverwrite } from "./trainingRun.ts";

const CMD = "finetune";
/** MAE's head init (main_finetune.py: trunc_normal_(model.head.weight, std=2e-5)). */
const HEAD_INIT_STD = 2e-5;

export const finetuneCommand: Command = {
  name: CMD,
  summary: "fine-tune a pre-trained encoder as a classifier (MAE's recipe; held-out top-1 per epoch, --resume)",
  usage: `vitmae finetune --model DIR --data SPEC (--epochs N | --steps N) --out DIR [flags]

MAE's main_finetune.py recipe; every default is MAE's unless it says otherwise.

  --model DIR              a ViTMAE pre-training checkpoint (or a \`vitmae pretrain\` output folder): its encoder
                           with a new head; or a ViTForImageClassification checkpoint to train further
  --data SPEC              labelled data: mnist, idx:PATH, or a folder with one subfolder per class
  --val-data SPEC          held-out data for the per-epoch top-1 (default: --val-fraction of --data)
  --val-fraction F         fraction of --data held out when there is no --val-data (default 0.1; 0: none)
  --limit N                use a seeded random N examples of --data (quick runs)
  --epochs N | --steps N   length of the run, in passes over the training split or optimizer steps
  --batch-size B           images per micro-batch (default 64; even, as mixup pairs images)
  --accum-iter K           micro-batches per optimizer step (default 1; effective batch B·K)
  --blr X | --lr X         base lr (lr = blr·B·K/256; default blr 1e-3) or the absolute lr
  --min-lr X               floor of the cosine schedule (default 1e-6)
  --warmup-epochs E        linear warmup (default 5, at most a tenth of the run)
  --layer-decay X          layer-wise lr decay (default 0.75; 0.65 for a ViT-B encoder, as MAE's ViT-B recipe)
  --weight-decay X         AdamW weight decay (default 0.05; never on biases, norms, cls token, positions)
  --drop-path X            stochastic depth rate of the last block (default 0.1)
  --clip-grad X            clip the global gradient norm (default: off)
  --mixup A / --cutmix A   Beta α of mixup / cutmix (defaults 0.8 / 1.0; 0 turns each off)
  --mixup-prob P           probability of mixing a batch (default 1)
  --mixup-switch-prob P    probability of cutmix when both are on (default 0.5)
  --smoothing S            label smoothing (default 0.1)
  --crop-scale-min S       random resized crop scale (S, 1) (default 0.08)
  --no-flip                no horizontal flips (digits and text are not mirror-symmetric)
  --no-augment             no random crop or flip
  --cls-token              pool with the CLS token after the final norm (HF's ViTForImageClassification);
                           default: MAE's global average pool + fc_norm
  --seed N                 seed of the split, head init, data order, augmentation, mixup, drop path (default 0)
  --checkpoint-every N     also save every N steps (default: at the end of every epoch only)
  --out DIR                where checkpoint/, log.jsonl, eval.jsonl and loss.png go
  --resume DIR             continue the run saved in DIR exactly (same flags as the original run)
${BACKEND_USAGE}`,
  options: {
    ...BACKEND_OPTION,
    model: { type: "string" },
    data: { type: "string" },
    "val-data": { type: "string" },
    "val-fraction": { type: "string" },
    limit: { type: "string" },
    epochs: { type: "string" },
    steps: { type: "string" },
    "batch-size": { type: "string" },
    "accum-iter": { type: "string" },
    blr: { type: "string" },
    lr: { type: "string" },
    "min-lr": { type: "string" },
    "warmup-epochs": { type: "string" },
    "layer-decay": { type: "string" },
    "weight-decay": { type: "string" },
    "drop-path": { type: "string" },
    "clip-grad": { type: "string" },
    mixup: { type: "string" },
    cutmix: { type: "string" },
    "mixup-prob": { type: "string" },
    "mixup-switch-prob": { type: "string" },
    smoothing: { type: "string" },
    "crop-scale-min": { type: "string" },
    "no-flip": { type: "boolean" },
    "no-augment": { type: "boolean" },
    "cls-token": { type: "boolean" },
    seed: { type: "string" },
    "checkpoint-every": { type: "string" },
    out: { type: "string" },
    resume: { type: "string" },
  },
  async run(values) {
    await useBackend(values, CMD);
    const outDir = required(values, "out", CMD);
    const resumed = typeof values.resume === "string" ? loadFinetuneCheckpoint(values.resume) : undefined;
    const saved = resumed?.state.hyper as Partial<Record<keyof FinetuneHyper, number | boolean | null>> | undefined;
    const dataSpec = required(values, "data", CMD);
    const seed = intFlag(values, "seed", CMD, resumed?.state.seed ?? 0);
    const { train, val } = datasets(values, dataSpec, seed);

    if (values.steps !== undefined && values.epochs !== undefined)
      throw new CliError(`vitmae ${CMD}: give --steps or --epochs, not both`, 2);
    if (values.blr !== undefined && values.lr !== undefined)
      throw new CliError(`vitmae ${CMD}: give --blr or --lr, not both (lr = blr × effective batch / 256)`, 2);
    const modelFlag = resumed ? resumed.path : required(values, "model", CMD);
    const numClasses = train.numClasses as number; // datasets() checked it
    const modelDir = resumed ? resumed.path : checkpointDir(modelFlag, CMD);
    // A new head pools as MAE's (global pool + fc_norm) unless --cls-token; a classifier keeps its own pooling.
    const useMeanPooling =
      values["cls-token"] === true ? false : resumed || isClassifierFolder(modelDir) ? undefined : true;
    const loaded = resumed ?? {
      ...loadClassifier(modelDir, {
        numLabels: numClasses,
        id2label: train.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i)),
        useMeanPooling,
        headKey: finetuneKeys(seed).head,
        headInitStd: HEAD_INIT_STD,
      }),
    };
    const { config } = loaded;

    const num = (flag: string, key: keyof FinetuneHyper, fallback: number, min = 0, max = 10) =>
      numberFlag(values, flag, CMD, min, max) ?? (saved?.[key] as number | undefined) ?? fallback;
    const batchSize = intFlag(values, "batch-size", CMD, (saved?.batchSize as number) ?? 64, 1);
    const accumIter = intFlag(values, "accum-iter", CMD, (saved?.accumIter as number) ?? 1, 1);
    const perEpoch = stepsPerEpochOf(train.size, batchSize, accumIter);
    if (perEpoch < 1)
      throw new CliError(
        `vitmae ${CMD}: ${train.size} training examples make no full step of ${batchSize} × ${accumIter} images`,
        2,
      );
    let epochs: number;
    let totalSteps: number;
    if (values.steps !== undefined) {
      totalSteps = intFlag(values, "steps", CMD, 0, 1);
      epochs = totalSteps / perEpoch;
    } else if (values.epochs !== undefined) {
      epochs = intFlag(values, "epochs", CMD, 0, 1);
      totalSteps = epochs * perEpoch;
    } else if (resumed) {
      totalSteps = resumed.state.totalSteps;
      epochs = (saved?.epochs as number) ?? totalSteps / perEpoch;
    } else throw new CliError(`vitmae ${CMD}: give the length of the run: --epochs N or --steps N`, 2);
    const isViTB = config.encoder.hiddenSize === 768 && config.encoder.numHiddenLayers === 12;
    const lrFlag = numberFlag(values, "lr", CMD, 0, 10);
    const blr = numberFlag(values, "blr", CMD, 0, 10) ?? 1e-3;
    const warmupEpochs = numberFlag(values, "warmup-epochs", CMD, 0, 1e6) ?? Math.min(5, epochs / 10);
    const hyper: FinetuneHyper = {
      batchSize,
      accumIter,
      epochs,
      totalSteps,
      lr: lrFlag ?? (values.blr === undefined && saved ? (saved.lr as number) : scaledLr(blr, batchSize * accumIter)),
      minLr: num("min-lr", "minLr", 1e-6),
      warmupSteps:
        values["warmup-epochs"] === undefined && saved
          ? (saved.warmupSteps as number)
          : Math.round(warmupEpochs * perEpoch),
      weightDecay: num("weight-decay", "weightDecay", 0.05),
      layerDecay: num("layer-decay", "layerDecay", isViTB ? 0.65 : 0.75, 0, 1),
      dropPath: num("drop-path", "dropPath", 0.1, 0, 0.999),
      betas: [0.9, 0.999],
      clipGrad: numberFlag(values, "clip-grad", CMD, 0, 1e9) ?? (saved ? (saved.clipGrad as number | null) : null),
      mixup: num("mixup", "mixup", 0.8, 0, 100),
      cutmix: num("cutmix", "cutmix", 1.0, 0, 100),
      mixupProb: num("mixup-prob", "mixupProb", 1, 0, 1),
      switchProb: num("mixup-switch-prob", "switchProb", 0.5, 0, 1),
      smoothing: num("smoothing", "smoothing", 0.1, 0, 0.999),
      augment: values["no-augment"] === true ? false : ((saved?.augment as boolean) ?? true),
      cropScaleMin: num("crop-scale-min", "cropScaleMin", 0.08, 0.001, 1),
      flip: values["no-flip"] === true ? false : ((saved?.flip as boolean) ?? true),
    };
    if ((hyper.mixup > 0 || hyper.cutmix > 0) && batchSize % 2 !== 0)
      throw new CliError(
        `vitmae ${CMD}: mixup/cutmix pair the images of a batch: --batch-size must be even, got ${batchSize}`,
        2,
      );
    if (resumed) {
      const now = { ...hyper, betas: hyper.betas.join(",") };
      checkSameRun(CMD, resumed.state.hyper, now, { saved: resumed.state.seed, now: seed }, FLAG_OF);
    }
    const checkpointEvery =
      values["checkpoint-every"] === undefined ? undefined : intFlag(values, "checkpoint-every", CMD, 1, 1);
    refuseToOverwrite(outDir, resumed?.path, CMD);
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new CliError(`vitmae ${CMD}: cannot create --out ${outDir}: ${(e as Error).message}`);
    }

    const size = { height: config.encoder.imageSize[0], width: config.encoder.imageSize[1] };
    const prep = readPreprocessorConfig(modelDir);
    const preprocess = preprocessOptions(prep, { ...size, channels: config.encoder.numChannels });
    const log = new RunLog(join(outDir, "log.jsonl"));
    const evalLog = new RunLog<EpochInfo>(join(outDir, "eval.jsonl"));
    const startStep = resumed?.state.step ?? 0;
    log.truncateTo(startStep);
    evalLog.truncateTo(startStep);
    console.log(
      `fine-tuning on ${train.size} examples (${numClasses} classes)${val ? `, ${val.size} held out` : ""}: ` +
        `${totalSteps} steps of ${batchSize * accumIter}, lr ${hyper.lr.toExponential(2)}, layer decay ${hyper.layerDecay}, ` +
        `${config.useMeanPooling ? "global pool + fc_norm" : "CLS token"}`,
    );
    const progress = makeProgress(totalSteps, startStep);
    let stopRequested = false;
    const onSigint = () => {
      if (stopRequested) process.exit(130); // a second Ctrl-C: give up at once
      stopRequested = true;
    };
    process.on("SIGINT", onSigint);
    const writeCurve = async () => {
      const { writeLossCurvePng } = await import("../viz/lossCurve.ts");
      writeLossCurvePng(
        join(outDir, "loss.png"),
        log.read().map((e) => ({ step: e.step, loss: e.loss })),
        { title: "fine-tuning loss" },
      );
    };
    let result: Awaited<ReturnType<typeof finetune>>;
    try {
      result = await finetune({
        config,
        params: loaded.params,
        train,
        val,
        dataSpec,
        preprocess,
        preprocessorJson: toPreprocessorJson(prep, size),
        hyper,
        seed,
        outDir,
        checkpointEvery,
        resume: resumed && { opt: resumed.opt, step: resumed.state.step },
        onStep: (info) => {
          log.append(info);
          progress.update(info);
        },
        onEpoch: (info) => {
          evalLog.append(info);
          progress.stop();
          console.log(
            `epoch ${info.epoch.toFixed(2)}: held-out top-1 ${(100 * info.accuracy).toFixed(2)}% (${info.count} images), loss ${info.loss.toFixed(4)}`,
          );
        },
        onCheckpoint: () => void writeCurve().catch(() => undefined),
        shouldStop: () => stopRequested,
      });
      progress.stop();
      await writeCurve();
    } catch (e) {
      progress.stop();
      if (e instanceof NonFiniteLossError || e instanceof DatasetError)
        throw new CliError(`vitmae ${CMD}: ${e.message}`);
      throw e;
    } finally {
      process.off("SIGINT", onSigint);
    }
    const savedIn = join(outDir, RUN_FOLDER.checkpoint);
    if (result.stopped)
      throw new CliError(
        `vitmae ${CMD}: interrupted at step ${result.step}/${totalSteps}: checkpoint saved in ${savedIn}; continue with --resume ${outDir}`,
        130,
      );
    const top1 = result.lastEval ? `, held-out top-1 ${(100 * result.lastEval.accuracy).toFixed(2)}%` : "";
    console.log(
      `done: ${result.step} steps, final loss ${result.lastLoss?.toFixed(4)}${top1}; model in ${savedIn}, log in ${log.path}`,
    );
  },
};

/** The flag that sets each saved hyperparameter, so a refusal names what the user typed. */
const FLAG_OF: Record<string, string> = {
  batchSize: "--batch-size",
  accumIter: "--accum-iter",
  epochs: "--epochs/--steps",
  totalSteps: "--epochs/--steps",
  lr: "--lr/--blr",
  minLr: "--min-lr",
  warmupSteps: "--warmup-epochs",
  weightDecay: "--weight-decay",
  layerDecay: "--layer-decay",
  dropPath: "--drop-path",
  clipGrad: "--clip-grad",
  mixup: "--mixup",
  cutmix: "--cutmix",
  mixupProb: "--mixup-prob",
  switchProb: "--mixup-switch-prob",
  smoothing: "--smoothing",
  augment: "--no-augment",
  cropScaleMin: "--crop-scale-min",
  flip: "--no-flip",
};

/** The training split and the held-out one (--val-data, or a seeded --val-fraction of --data). */
function datasets(values: Record<string, unknown>, dataSpec: string, seed: number): { train: Dataset; val?: Dataset } {
  const [subsetKey, splitKey] = T.random.split(T.random.foldIn(T.key(seed), 0x73706c74), 2);
  const labelled = (spec: string) => {
    const d = parseDataSpec(spec);
    if (d.numClasses === undefined)
      throw new CliError(
        `vitmae ${CMD}: dataset ${JSON.stringify(spec)} has no labels; fine-tuning needs classes ` +
          "(a folder with one subfolder per class, IDX files with labels, or mnist)",
      );
    if (d.numClasses < 2)
      throw new CliError(
        `vitmae ${CMD}: dataset ${JSON.stringify(spec)} has ${d.numClasses} class; fine-tuning needs at least 2`,
      );
    return d;
  };
  let data = labelled(dataSpec);
  const limit = values.limit === undefined ? undefined : intFlag(values, "limit", CMD, 0, 2);
  if (limit !== undefined && limit < data.size) {
    const order = Array.from(T.random.permutation(subsetKey, data.size, { backend: "reference" }).toArray()).slice(
      0,
      limit,
    );
    data = subsetDataset(
      data,
      order.sort((a, b) => a - b),
      `${data.name}[${limit}]`,
    );
  }
  if (typeof values["val-data"] === "string") {
    const val = labelled(values["val-data"]);
    if (val.numClasses !== data.numClasses)
      throw new CliError(`vitmae ${CMD}: --val-data has ${val.numClasses} classes, --data ${data.numClasses}`, 2);
    return { train: data, val };
  }
  const fraction = numberFlag(values, "val-fraction", CMD, 0, 0.9) ?? 0.1;
  if (fraction === 0) return { train: data };
  const { train, test } = splitDataset(data, fraction, splitKey);
  return { train, val: test };
}
