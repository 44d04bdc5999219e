// `vitmae pretrain`: MAE pre-training from one command, with checkpoints, a log, a loss curve,
// clean Ctrl-C and exact resume.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { tryParseDataSpec, preprocessOptions, DEFAULT_PREPROCESSOR_CONFIG } from "../data/index.ts";
import { RUN_FOLDER } from "../mae/checkpointNames.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { whyTooLarge } from "../mae/footprint.ts";
import { MAE_ADAMW } from "../nn/adamw.ts";
import { scaledLr } from "../nn/schedule.ts";
import { fromSaved, toSaved, type PretrainHyper } from "../train/hyper.ts";
import { pretrain } from "../train/pretrain.ts";
import { makeProgress } from "../train/progress.ts";
import { RunLog } from "../train/runLog.ts";
import { tryLoadTrainingCheckpoint } from "../train/trainCheckpoint.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, numberFlag, orFail, required, type Command } from "./command.ts";
import { configFromSpec } from "./configFromSpec.ts";
import { machineMemory } from "./machineMemory.ts";
import { readableData } from "./readableData.ts";
import { interrupted, listenForStop } from "./stopSignals.ts";
import { checkSameRun, maeConfigDiffs, refuseToOverwrite, trainingFailure } from "./trainingRun.ts";

const CMD = "pretrain";

export const pretrainCommand: Command = {
  name: CMD,
  summary: "pre-train a ViTMAE (checkpoints, JSONL log, loss curve, Ctrl-C safe, --resume)",
  usage: `vitmae pretrain --config PRESET|FILE --data mnist|idx:PATH|DIR (--steps N | --epochs N) --out DIR [flags]

  --config PRESET|FILE   a preset (base, large, huge, tiny, mnist) or an HF config.json
  --data SPEC            mnist (embedded), idx:PATH (MNIST-format files), or an image folder; an image
                         folder's files are checked first and every unreadable one is named
  --skip-bad-images      leave out unreadable images (counted in the log) instead of stopping
  --steps N | --epochs N length of the run, in optimizer steps or passes over the data
  --batch-size B         images per micro-batch (default 64)
  --accum-iter K         micro-batches per optimizer step (default 1; effective batch B·K)
  --blr X | --lr X       base lr (lr = blr·B·K/256; default blr 1.5e-4) or the absolute lr; not both
  --min-lr X             floor of the cosine schedule (default 0)
  --warmup-steps N       linear warmup (default 5% of the run)
  --weight-decay X       AdamW weight decay (default 0.05; never on biases, norms, cls/mask tokens)
  --clip-grad X          clip the global gradient norm to X (default: off)
  --mask-ratio R         fraction of patches masked (default: the config's)
  --no-augment           no random resized crop / flip
  --seed N               seed for init, data order, augmentation and masking (default 0)
  --checkpoint-every N   save every N steps (default 100) and at the end
  --out DIR              where checkpoint/, log.jsonl and loss.png go
  --overwrite            start afresh in an --out holding an earlier run's log.jsonl and loss.png
                         (never over a saved checkpoint: --resume it, or move it away)
  --resume DIR           continue the run saved in DIR exactly (same flags, --data and --config as the
                         original run; --data and --config default to its own)
${backendUsage(25)}

A run stops when its loss becomes NaN or ±Infinity or explodes (a step's loss over 10× the running
mean of the losses before it, and over 1): the last checkpoint saved before that step is kept.
Ctrl-C (SIGINT) and SIGTERM save a checkpoint and exit (130, 143); any other failure during a step
(an unreadable image, a full disk) saves the run so far before exiting.`,
  options: {
    ...BACKEND_OPTION,
    config: { type: "string" },
    data: { type: "string" },
    steps: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    "accum-iter": { type: "string" },
    blr: { type: "string" },
    lr: { type: "string" },
    "min-lr": { type: "string" },
    "warmup-steps": { type: "string" },
    "weight-decay": { type: "string" },
    "clip-grad": { type: "string" },
    "mask-ratio": { type: "string" },
    "no-augment": { type: "boolean" },
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
      typeof values.resume === "string" ? orFail(CMD, tryLoadTrainingCheckpoint(values.resume)) : undefined;
    const dataSpec = resumed && values.data === undefined ? resumed.state.data : required(values, "data", CMD);
    let config: ViTMAEConfig;
    let givenConfig: ViTMAEConfig | undefined;
    if (resumed) {
      config = resumed.config;
      if (values.config !== undefined) givenConfig = configFromSpec(values.config as string, CMD);
    } else config = configFromSpec(required(values, "config", CMD), CMD);

    if (values.steps !== undefined && values.epochs !== undefined)
      throw new CliError(`vitmae ${CMD}: give --steps or --epochs, not both`, 2);
    if (values.blr !== undefined && values.lr !== undefined)
      throw new CliError(`vitmae ${CMD}: give --blr or --lr, not both (lr = blr × effective batch / 256)`, 2);
    // A resumed run defaults every flag to the saved run's value (loadTrainingCheckpoint checked them).
    const saved = resumed ? (fromSaved(resumed.state.hyper) as { hyper: PretrainHyper }).hyper : undefined;
    const batchSize = intFlag(values, "batch-size", CMD, saved?.batchSize ?? 64, 1);
    const tooLarge = whyTooLarge(config, { training: true, batchSize, budgetBytes: machineMemory() });
    if (tooLarge !== undefined)
      throw new CliError(`vitmae ${CMD}: cannot train this model (--batch-size ${batchSize}): ${tooLarge}`);
    const accumIter = intFlag(values, "accum-iter", CMD, saved?.accumIter ?? 1, 1);
    const dataset = readableData(orFail(CMD, tryParseDataSpec(dataSpec)), {
      cmd: CMD,
      flag: "--data",
      spec: dataSpec,
      skipBad: values["skip-bad-images"] === true,
      training: true,
    });
    const batchesPerEpoch = Math.max(1, Math.floor(dataset.size / batchSize));
    let totalSteps: number;
    if (values.steps !== undefined) totalSteps = intFlag(values, "steps", CMD, 0, 1);
    else if (values.epochs !== undefined)
      totalSteps = Math.max(1, Math.round((intFlag(values, "epochs", CMD, 0, 1) * batchesPerEpoch) / accumIter));
    else if (resumed) totalSteps = resumed.state.totalSteps;
    else throw new CliError(`vitmae ${CMD}: give the length of the run: --steps N or --epochs N`, 2);
    const lrFlag = numberFlag(values, "lr", CMD, 0, 10);
    const blr = numberFlag(values, "blr", CMD, 0, 10) ?? 1.5e-4;
    const maskRatio = numberFlag(values, "mask-ratio", CMD, 0, 0.999999) ?? saved?.maskRatio ?? config.maskRatio;
    if (maskRatio === 0)
      throw new CliError(`vitmae ${CMD}: a mask ratio of 0 leaves nothing to reconstruct; use a ratio in (0, 1)`, 2);
    const hyper: PretrainHyper = {
      batchSize,
      accumIter,
      totalSteps,
      lr: lrFlag ?? (values.blr === undefined && saved ? saved.lr : scaledLr(blr, batchSize * accumIter)),
      minLr: numberFlag(values, "min-lr", CMD, 0, 10) ?? saved?.minLr ?? 0,
      warmupSteps: intFlag(values, "warmup-steps", CMD, saved?.warmupSteps ?? Math.round(totalSteps * 0.05), 0),
      weightDecay: numberFlag(values, "weight-decay", CMD, 0, 10) ?? saved?.weightDecay ?? MAE_ADAMW.weightDecay,
      betas: MAE_ADAMW.betas,
      clipGrad: numberFlag(values, "clip-grad", CMD, 0, 1e9) ?? (saved ? saved.clipGrad : null),
      maskRatio,
      augment: values["no-augment"] === true ? false : (saved?.augment ?? true),
    };
    const seed = intFlag(values, "seed", CMD, resumed?.state.seed ?? 0);
    if (resumed) {
      checkSameRun(CMD, resumed.state.hyper, toSaved(hyper), { saved: resumed.state.seed, now: seed }, FLAG_OF, {
        data: { saved: resumed.state.data, given: dataSpec },
        configDiffs: givenConfig && maeConfigDiffs(resumed.config, givenConfig),
      });
    }
    const checkpointEvery = intFlag(values, "checkpoint-every", CMD, 100, 1);
    refuseToOverwrite(outDir, resumed?.path, CMD, {
      overwrite: values.overwrite === true,
      runFiles: ["log.jsonl", "loss.png"],
    });

    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new CliError(`vitmae ${CMD}: cannot create --out ${outDir}: ${(e as Error).message}`);
    }
    const preprocessorJson = {
      ...hfPreprocessorJson(),
      size: { height: config.imageSize[0], width: config.imageSize[1] },
    };
    const log = new RunLog(join(outDir, "log.jsonl"));
    const startStep = resumed?.state.step ?? 0;
    log.truncateTo(startStep);
    const progress = makeProgress(totalSteps, startStep);
    const stop = listenForStop();
    const writeCurve = async () => {
      const { writeLossCurvePng } = await import("../viz/lossCurve.ts");
      writeLossCurvePng(
        join(outDir, "loss.png"),
        log.read().map((e) => ({ step: e.step, loss: e.loss })),
      );
    };
    let result: Awaited<ReturnType<typeof pretrain>>;
    try {
      result = await pretrain({
        config,
        dataset,
        dataSpec,
        hyper,
        seed,
        outDir,
        checkpointEvery,
        preprocessorJson,
        preprocess: preprocessOptions(
          { ...DEFAULT_PREPROCESSOR_CONFIG },
          { height: config.imageSize[0], width: config.imageSize[1], channels: config.numChannels },
        ),
        resume: resumed && {
          params: resumed.params,
          opt: resumed.opt,
          step: resumed.state.step,
          runningLoss: resumed.state.runningLoss,
        },
        onStep: (info) => {
          log.append(info);
          progress.update(info);
        },
        onCheckpoint: () => void writeCurve().catch(() => undefined),
        onCompiled: (plan) => console.log(describePlan(plan)),
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
    console.log(
      `done: ${result.step} steps, final loss ${result.lastLoss?.toFixed(4)}; model in ${savedIn}, ` +
        `log in ${log.path}, curve in ${join(outDir, "loss.png")}`,
    );
  },
};

/** The preprocessing the run used, as HF's preprocessor_config.json (so reconstruct/probe match it). */
function hfPreprocessorJson(): Record<string, unknown> {
  const p = DEFAULT_PREPROCESSOR_CONFIG;
  return {
    image_processor_type: "ViTImageProcessor",
    do_resize: p.doResize,
    resample: 2,
    do_rescale: p.doRescale,
    rescale_factor: p.rescaleFactor,
    do_normalize: p.doNormalize,
    image_mean: p.imageMean,
    image_std: p.imageStd,
  };
}

/** The flag that sets each saved hyperparameter, so a refusal names what the user typed. */
const FLAG_OF: Record<keyof PretrainHyper, string> = {
  batchSize: "--batch-size",
  accumIter: "--accum-iter",
  totalSteps: "--steps/--epochs",
  lr: "--lr/--blr",
  minLr: "--min-lr",
  warmupSteps: "--warmup-steps",
  weightDecay: "--weight-decay",
  betas: "betas",
  clipGrad: "--clip-grad",
  maskRatio: "--mask-ratio",
  augment: "--no-augment",
};

/** One line on the compiled step: what runs, and the memory each step needs (known before it runs). */
export function describePlan(plan: {
  kernels: number;
  arenaBytes: Readonly<Record<string, number>>;
  outputBytes: number;
}): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const arenas =
    Object.entries(plan.arenaBytes)
      .map(([be, b]) => `${mb(b)} on ${be}`)
      .join(", ") || "none";
  return `compiled the training step: ${plan.kernels} kernels; intermediate buffers ${arenas} (reused by liveness); ${mb(plan.outputBytes)} of new outputs per step (parameters and optimizer state are updated in place)`;
}
