// `vitmae finetune`: MAE's fine-tuning recipe (main_finetune.py) from one command, with checkpoints, a log,
// held-out top-1 every epoch, a clean stop on Ctrl-C or SIGTERM, and exact resume.

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { preprocessOptions } from "../data/preprocess.ts";
import { toPreprocessorJson } from "../data/preprocessorConfig.ts";
import { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
import { RUN_FOLDER } from "../mae/checkpointNames.ts";
import { whyTooLarge } from "../mae/footprint.ts";
import { scaledLr } from "../nn/schedule.ts";
import {
  finetune,
  finetuneKeys,
  stepsPerEpochOf,
  tryLoadFinetuneCheckpoint,
  type EpochInfo,
  type FinetuneHyper,
} from "../train/finetune.ts";
import { finetuneFromSaved } from "../train/hyper.ts";
import { makeProgress } from "../train/progress.ts";
import { RunLog } from "../train/runLog.ts";
import { classifierModel } from "../vit/checkpoint.ts";
import { isClassifierFolder, tryLoadClassifier } from "../vit/checkpointFolder.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, numberFlag, orFail, required, type Command } from "./command.ts";
import { finetuneData, inputDiffs, selectionOf } from "./finetuneData.ts";
import { machineMemory } from "./machineMemory.ts";
import { checkpointDir } from "./paths.ts";
import { interrupted, listenForStop } from "./stopSignals.ts";
import { checkSameRun, refuseToOverwrite, trainingFailure, type RunInput } from "./trainingRun.ts";

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
  --data SPEC              labelled data: mnist, idx:PATH, or a folder with one subfolder per class; an image
                           folder's files are checked first and every unreadable one is named
  --skip-bad-images        leave out unreadable images (counted in the log) instead of stopping
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
  --overwrite              start afresh in an --out holding an earlier run's log.jsonl, eval.jsonl and loss.png
                           (never over a saved checkpoint: --resume it, or move it away)
  --resume DIR             continue the run saved in DIR exactly (same flags, data and model as the original
                           run; --data, --val-data, --val-fraction and --limit default to its own)
${backendUsage(27)}

A run stops when its loss becomes NaN or ±Infinity or explodes (a step's loss over 10× the running mean
of the losses before it, and over 10·ln(classes)): the last checkpoint saved before that step is kept.
Ctrl-C (SIGINT) and SIGTERM save a checkpoint and exit (130, 143); any other failure during a step or an
evaluation (an unreadable image, a full disk) saves the run so far before exiting.`,
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
    overwrite: { type: "boolean" },
    resume: { type: "string" },
    "skip-bad-images": { type: "boolean" },
  },
  async run(values) {
    await useBackend(values, CMD);
    const outDir = required(values, "out", CMD);
    const resumed =
      typeof values.resume === "string" ? orFail(CMD, tryLoadFinetuneCheckpoint(values.resume)) : undefined;
    // A resumed run defaults every flag to the saved run's value (its trainer state was checked on loading).
    const saved = resumed ? (finetuneFromSaved(resumed.state.hyper) as { hyper: FinetuneHyper }).hyper : undefined;
    const savedInputs = resumed?.state.inputs ?? {};
    const dataSpec = resumed && values.data === undefined ? resumed.state.data : required(values, "data", CMD);
    const seed = intFlag(values, "seed", CMD, resumed?.state.seed ?? 0);
    const selection = selectionOf(values, savedInputs);
    const { train, val } = finetuneData(dataSpec, selection, seed, values["skip-bad-images"] === true);

    if (values.steps !== undefined && values.epochs !== undefined)
      throw new CliError(`vitmae ${CMD}: give --steps or --epochs, not both`, 2);
    if (values.blr !== undefined && values.lr !== undefined)
      throw new CliError(`vitmae ${CMD}: give --blr or --lr, not both (lr = blr × effective batch / 256)`, 2);
    const numClasses = train.numClasses as number; // finetuneData() checked it
    const modelDir =
      typeof values.model === "string" || !resumed ? checkpointDir(required(values, "model", CMD), CMD) : undefined;
    // The model a fresh run starts from: a resumed run must name the same one, or none (it continues its own).
    const modelInput = modelDir !== undefined ? resolve(modelDir) : (savedInputs["--model"] ?? null);
    // A new head pools as MAE's (global pool + fc_norm) unless --cls-token; a classifier keeps its own pooling.
    const useMeanPooling =
      values["cls-token"] === true ? false : resumed || isClassifierFolder(modelDir!) ? undefined : true;
    const loaded =
      resumed ??
      orFail(
        CMD,
        tryLoadClassifier(modelDir!, {
          numLabels: numClasses,
          id2label: train.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i)),
          useMeanPooling,
          headKey: finetuneKeys(seed).head,
          headInitStd: HEAD_INIT_STD,
        }),
      );
    const { config } = loaded;

    const num = (flag: string, key: keyof FinetuneHyper, fallback: number, min = 0, max = 10) =>
      numberFlag(values, flag, CMD, min, max) ?? (saved?.[key] as number | undefined) ?? fallback;
    const batchSize = intFlag(values, "batch-size", CMD, saved?.batchSize ?? 64, 1);
    const tooLarge = whyTooLarge(
      config.encoder,
      { training: true, batchSize, budgetBytes: machineMemory() },
      classifierModel(config),
    );
    if (tooLarge !== undefined)
      throw new CliError(`vitmae ${CMD}: cannot train this model (--batch-size ${batchSize}): ${tooLarge}`);
    const accumIter = intFlag(values, "accum-iter", CMD, saved?.accumIter ?? 1, 1);
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
      epochs = saved?.epochs ?? totalSteps / perEpoch;
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
      lr: lrFlag ?? (values.blr === undefined && saved ? saved.lr : scaledLr(blr, batchSize * accumIter)),
      minLr: num("min-lr", "minLr", 1e-6),
      warmupSteps:
        values["warmup-epochs"] === undefined && saved ? saved.warmupSteps : Math.round(warmupEpochs * perEpoch),
      weightDecay: num("weight-decay", "weightDecay", 0.05),
      layerDecay: num("layer-decay", "layerDecay", isViTB ? 0.65 : 0.75, 0, 1),
      dropPath: num("drop-path", "dropPath", 0.1, 0, 0.999),
      betas: [0.9, 0.999],
      clipGrad: numberFlag(values, "clip-grad", CMD, 0, 1e9) ?? (saved ? saved.clipGrad : null),
      mixup: num("mixup", "mixup", 0.8, 0, 100),
      cutmix: num("cutmix", "cutmix", 1.0, 0, 100),
      mixupProb: num("mixup-prob", "mixupProb", 1, 0, 1),
      switchProb: num("mixup-switch-prob", "switchProb", 0.5, 0, 1),
      smoothing: num("smoothing", "smoothing", 0.1, 0, 0.999),
      augment: values["no-augment"] === true ? false : (saved?.augment ?? true),
      cropScaleMin: num("crop-scale-min", "cropScaleMin", 0.08, 0.001, 1),
      flip: values["no-flip"] === true ? false : (saved?.flip ?? true),
    };
    if ((hyper.mixup > 0 || hyper.cutmix > 0) && batchSize % 2 !== 0)
      throw new CliError(
        `vitmae ${CMD}: mixup/cutmix pair the images of a batch: --batch-size must be even, got ${batchSize}`,
        2,
      );
    const inputs = { "--model": modelInput, ...selection };
    if (resumed) {
      const now = { ...hyper, betas: hyper.betas.join(",") };
      const pooling: RunInput[] =
        values["cls-token"] === true ? [{ flag: "--cls-token", saved: !config.useMeanPooling, given: true }] : [];
      checkSameRun(CMD, resumed.state.hyper, now, { saved: resumed.state.seed, now: seed }, FLAG_OF, {
        data: { saved: resumed.state.data, given: dataSpec },
        inputs: [...inputDiffs(savedInputs, inputs), ...pooling],
      });
    }
    const checkpointEvery =
      values["checkpoint-every"] === undefined ? undefined : intFlag(values, "checkpoint-every", CMD, 1, 1);
    refuseToOverwrite(outDir, resumed?.path, CMD, {
      overwrite: values.overwrite === true,
      runFiles: ["log.jsonl", "eval.jsonl", "loss.png"],
    });
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new CliError(`vitmae ${CMD}: cannot create --out ${outDir}: ${(e as Error).message}`);
    }

    const size = { height: config.encoder.imageSize[0], width: config.encoder.imageSize[1] };
    const prep = readPreprocessorConfig(resumed?.path ?? modelDir!);
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
    const stop = listenForStop();
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
        inputs,
        preprocess,
        preprocessorJson: toPreprocessorJson(prep, size),
        hyper,
        seed,
        outDir,
        checkpointEvery,
        resume: resumed && { opt: resumed.opt, step: resumed.state.step, runningLoss: resumed.state.runningLoss },
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
        shouldStop: () => stop.received() !== undefined,
      });
      progress.stop();
      await writeCurve();
    } catch (e) {
      progress.stop();
      throw trainingFailure(CMD, e, outDir);
    } finally {
      stop.dispose();
    }
    if (result.stopped) throw interrupted(CMD, stop.received() ?? "SIGINT", result.step, totalSteps, outDir);
    const savedIn = join(outDir, RUN_FOLDER.checkpoint);
    const top1 = result.lastEval ? `, held-out top-1 ${(100 * result.lastEval.accuracy).toFixed(2)}%` : "";
    console.log(
      `done: ${result.step} steps, final loss ${result.lastLoss?.toFixed(4)}${top1}; model in ${savedIn}, log in ${log.path}`,
    );
  },
};

/** The flag that sets each saved hyperparameter, so a refusal names what the user typed. */
const FLAG_OF: Record<keyof FinetuneHyper, string> = {
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
  betas: "betas",
};
