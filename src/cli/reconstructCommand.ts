// `vitmae reconstruct`: the MAE demo notebook's picture — original | masked | reconstruction |
// reconstruction with the visible patches pasted back — one row per image, as one PNG.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { tryParseDataSpec } from "../data/parseDataSpec.ts";
import { preprocess, preprocessOptions, type PreprocessOptions } from "../data/preprocess.ts";
import { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
import { PANEL_HEADERS, panels } from "../eval/panels.ts";
import { reconstruct, type ReconstructionSpace } from "../eval/reconstruct.ts";
import type { Image } from "../io/image.ts";
import { readImageFile, writePngFile } from "../node/imageFile.ts";
import { lenKeepOf } from "../mae/masking.ts";
import { tryLoadPreTraining } from "../mae/checkpointFolder.ts";
import { ViTMAEForPreTraining } from "../mae/models.ts";
import { renderGrid } from "../viz/grid.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, intFlag, numberFlag, orFail, required, type Command } from "./command.ts";
import { checkOutputPath, checkpointDir } from "./paths.ts";

const CMD = "reconstruct";
/** Images per forward call (the picture itself bounds N in practice). */
const BATCH = 16;

export const reconstructCommand: Command = {
  name: CMD,
  summary: "draw MAE reconstructions (original | masked | reconstruction | + visible) as a PNG grid",
  usage: `vitmae reconstruct --model DIR (--image FILE... | --data SPEC [--count N]) --out grid.png [flags]

One row per image: the original, the masked input (masked patches are 0 after normalisation, so
they show in the processor's mean colour, a dark grey for ImageNet's mean), the reconstruction
(every patch predicted), and the reconstruction with the visible patches pasted back. Pixels are
un-normalised with the checkpoint's preprocessor_config.json mean/std (ImageNet's by default).
Prints each image's masked-patch MSE in the loss's space (as the model's loss computes it).

  --model DIR                        checkpoint folder, or a \`vitmae pretrain\` output folder (its checkpoint/)
  --image FILE                       a PNG or JPEG (repeat for several), preprocessed as HF's ViTImageProcessor
  --data SPEC --count N              N examples (default 8, or all if fewer) of a dataset, evenly spaced over it
                                     (indices floor(i·size/N)), so a class-sorted dataset shows every class
  --mask-ratio R                     fraction of patches masked, in (0, 1) (default: the config's mask_ratio)
  --seed N                           masking seed (default 0): the same seed masks the same patches
  --unnormalize-with-target-stats    norm_pix_loss models only: show pred·sqrt(var+1e-6)+mean with each
                                     target patch's own mean/var (uses the hidden pixels' statistics);
                                     without it the reconstruction is shown in normalised-patch space
  --out FILE                         the PNG to write (atomically; never inside a checkpoint folder)
  --overwrite                        replace --out if it exists
${backendUsage(37)}`,
  options: {
    model: { type: "string" },
    image: { type: "string", multiple: true },
    data: { type: "string" },
    count: { type: "string" },
    "mask-ratio": { type: "string" },
    seed: { type: "string" },
    "unnormalize-with-target-stats": { type: "boolean" },
    out: { type: "string" },
    overwrite: { type: "boolean" },
    ...BACKEND_OPTION,
  },
  async run(values) {
    const modelFlag = required(values, "model", CMD);
    const out = required(values, "out", CMD);
    const images = (values.image as string[] | undefined) ?? [];
    const dataSpec = values.data as string | undefined;
    if (images.length > 0 === (dataSpec !== undefined))
      throw new CliError(
        `vitmae ${CMD}: give either --image FILE (one or more) or --data SPEC (see vitmae ${CMD} --help)`,
        2,
      );
    if (dataSpec === undefined && values.count !== undefined)
      throw new CliError(`vitmae ${CMD}: --count goes with --data, not --image`, 2);
    const count = values.count === undefined ? undefined : intFlag(values, "count", CMD, 8, 1);
    const seed = intFlag(values, "seed", CMD, 0);
    const maskRatioFlag = numberFlag(values, "mask-ratio", CMD, 0, 1);
    if (maskRatioFlag === 0 || maskRatioFlag === 1)
      throw new CliError(
        `vitmae ${CMD}: --mask-ratio must be strictly between 0 and 1 (some patches masked, some visible), got ${maskRatioFlag}`,
        2,
      );
    const withTargetStats = values["unnormalize-with-target-stats"] === true;
    checkOutputPath(out, CMD, values.overwrite === true);

    await useBackend(values, CMD);
    const modelDir = checkpointDir(modelFlag, CMD);
    const { config, params } = orFail(CMD, tryLoadPreTraining(modelDir));
    const model = new ViTMAEForPreTraining(config, params);
    const cfg = model.config;
    if (withTargetStats && !cfg.normPixLoss) {
      throw new CliError(
        `vitmae ${CMD}: --unnormalize-with-target-stats is for norm_pix_loss models, and ${modelDir} has ` +
          "norm_pix_loss false (its reconstruction is already in pixel space)",
        2,
      );
    }
    const processor = readPreprocessorConfig(modelDir);
    const prep = preprocessOptions(processor, {
      height: cfg.imageSize[0],
      width: cfg.imageSize[1],
      channels: cfg.numChannels,
    });
    const { pixels, names } = dataSpec === undefined ? fromFiles(images, prep) : fromDataset(dataSpec, count, prep);
    const maskRatio = maskRatioFlag ?? cfg.maskRatio;

    // One draw of noise for all images, so the masks do not depend on how the batch is cut.
    const n = names.length;
    const noise = T.random.uniform(T.key(seed), [n, cfg.numPatches]);
    const rows: Image[][] = [];
    const mse: number[] = [];
    let space: ReconstructionSpace = "pixels";
    for (let start = 0; start < n; start += BATCH) {
      const stop = Math.min(n, start + BATCH);
      const r = await reconstruct(model, T.slice(pixels, [{ start, stop }]), {
        noise: T.slice(noise, [{ start, stop }]),
        maskRatio,
        unnormalizeWithTargetStats: withTargetStats,
      });
      rows.push(...(await panels(r, processor)));
      mse.push(...r.maskedMse);
      space = r.space;
    }

    const masked = cfg.numPatches - lenKeepOf(cfg.numPatches, maskRatio);
    const mean = mse.reduce((a, b) => a + b, 0) / n;
    const caption = [
      `mask ratio ${maskRatio} (${masked} of ${cfg.numPatches} patches masked), seed ${seed}. ` +
        "Masked patches are shown as 0 after normalisation, i.e. the processor's mean colour.",
      SPACE_NOTE[space],
      `Masked-patch MSE (loss space), row by row: ${mse.map((v) => v.toFixed(4)).join(", ")}; mean ${mean.toFixed(4)}.`,
    ].join("\n");
    const grid = renderGrid({ headers: PANEL_HEADERS, rows, caption });
    writePngFile(out, grid.data, grid.width, grid.height, 3);

    names.forEach((name, i) => console.log(`${name}: masked-patch MSE ${mse[i].toFixed(6)}`));
    console.log(`mean masked-patch MSE over ${n} image(s): ${mean.toFixed(6)} (${SPACE_NOTE[space]})`);
    console.log(`wrote ${out} (${grid.width}x${grid.height}, ${n} row(s) x ${PANEL_HEADERS.length} panels)`);
  },
};

export const SPACE_NOTE: Record<ReconstructionSpace, string> = {
  pixels: "Reconstruction in pixel space (the model predicts normalised pixels).",
  "normalized-patches":
    "norm_pix_loss model: the reconstruction is shown in normalised-patch space " +
    "(each predicted patch is zero-mean, unit-variance), not in pixels.",
  "target-stats":
    "norm_pix_loss model: predicted patches un-normalised with each target patch's own mean and variance " +
    "(statistics of the hidden pixels).",
};

function fromFiles(files: readonly string[], prep: PreprocessOptions): { pixels: Tensor; names: string[] } {
  const views = files.map((f) => preprocess(readImageFile(f), prep));
  return { pixels: stackViews(views, prep), names: [...files] };
}

/** `count` examples (default: 8, or all of a smaller dataset) evenly spaced over the dataset: indices floor(i·size/count). */
function fromDataset(
  spec: string,
  countFlag: number | undefined,
  prep: PreprocessOptions,
): { pixels: Tensor; names: string[] } {
  const dataset = orFail(CMD, tryParseDataSpec(spec));
  const count = countFlag ?? Math.min(8, dataset.size);
  if (count > dataset.size)
    throw new CliError(
      `vitmae ${CMD}: --count ${count} but dataset ${JSON.stringify(dataset.name)} has only ${dataset.size} examples`,
      2,
    );
  const indices = Array.from({ length: count }, (_, i) => Math.floor((i * dataset.size) / count));
  const views = indices.map((i) => preprocess(dataset.get(i).image, prep));
  return { pixels: stackViews(views, prep), names: indices.map((i) => `${dataset.name}[${i}]`) };
}

function stackViews(views: Float32Array[], prep: PreprocessOptions): Tensor {
  const size = prep.channels * prep.height * prep.width;
  const all = new Float32Array(views.length * size);
  views.forEach((v, i) => all.set(v, i * size));
  return T.fromArray(all, [views.length, prep.channels, prep.height, prep.width]);
}
