// A checkpoint's preprocessor_config.json, parsed as Hugging Face's ViTImageProcessor reads it (the
// file itself is read by src/node/preprocessorConfigFile.ts: this module runs anywhere).

import { PIL_RESAMPLE_CODES, type ResampleFilter } from "./resize.ts";

/** The preprocessing settings of a checkpoint (HF's key names in camelCase). */
export interface PreprocessorConfig {
  doResize: boolean;
  /** The processor's own output size; absent when the file does not give one (use the model's image_size). */
  size?: { height: number; width: number };
  resample: ResampleFilter;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: number | number[];
  imageStd: number | number[];
  /** The file these came from, or undefined for the defaults. */
  source?: string;
}

/** ImageNet statistics: what MAE pre-trained with and what facebook/vit-mae-* checkpoints ship. */
export const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225];
/** ViTImageProcessor's own defaults for keys a config file leaves out. */
const IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5];
const IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5];

/**
 * The settings used when a checkpoint has no preprocessor_config.json: ViTImageProcessor's, except
 * that mean/std are ImageNet's (MAE's main_pretrain.py) rather than the class default 0.5, since
 * every MAE checkpoint was trained with them.
 */
export const DEFAULT_PREPROCESSOR_CONFIG: Readonly<PreprocessorConfig> = Object.freeze({
  doResize: true,
  resample: "bilinear",
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  imageMean: IMAGENET_DEFAULT_MEAN,
  imageStd: IMAGENET_DEFAULT_STD,
});

/** A preprocessor_config.json that cannot be used; names the file and the key. */
export class PreprocessorConfigError extends Error {
  override name = "PreprocessorConfigError";
}

/** Validates parsed JSON; keys it leaves out take ViTImageProcessor's defaults (mean and std 0.5, as HF does). */
export function parsePreprocessorConfig(json: unknown, source: string): PreprocessorConfig {
  const fail = (problem: string): never => {
    throw new PreprocessorConfigError(`${JSON.stringify(source)}: ${problem}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("expected a JSON object");
  const o = json as Record<string, unknown>;
  const bool = (key: string, fallback: boolean): boolean => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    return typeof v === "boolean" ? v : fail(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
  };
  const stats = (key: string, fallback: number[]): number | number[] => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    const ok = Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isFinite(x));
    return ok
      ? (v as number[]).slice()
      : fail(`"${key}" must be a number or a list of numbers, got ${JSON.stringify(v)}`);
  };
  const config: PreprocessorConfig = {
    doResize: bool("do_resize", true),
    resample: parseResample(o.resample, fail),
    doRescale: bool("do_rescale", true),
    rescaleFactor: 1 / 255,
    doNormalize: bool("do_normalize", true),
    imageMean: stats("image_mean", IMAGENET_STANDARD_MEAN),
    imageStd: stats("image_std", IMAGENET_STANDARD_STD),
    source,
  };
  if (o.rescale_factor !== undefined && o.rescale_factor !== null) {
    const r = o.rescale_factor;
    config.rescaleFactor =
      typeof r === "number" && Number.isFinite(r) && r > 0
        ? r
        : fail(`"rescale_factor" must be a positive number, got ${JSON.stringify(r)}`);
  }
  const std = typeof config.imageStd === "number" ? [config.imageStd] : config.imageStd;
  if (std.some((s) => s === 0)) fail(`"image_std" ${JSON.stringify(config.imageStd)} has a zero: division by zero`);
  const size = parseSize(o.size, fail);
  if (size !== undefined) config.size = size;
  return config;
}

/** HF's get_size_dict: an int n is n x n, [h, w] is h x w, or {"height", "width"}; shortest_edge is not ViT's. */
function parseSize(v: unknown, fail: (p: string) => never): { height: number; width: number } | undefined {
  if (v === undefined || v === null) return undefined;
  const dim = (d: unknown) => typeof d === "number" && Number.isInteger(d) && d > 0;
  if (dim(v)) return { height: v as number, width: v as number };
  if (Array.isArray(v) && v.length === 2 && v.every(dim)) return { height: v[0], width: v[1] };
  if (typeof v === "object" && !Array.isArray(v)) {
    const s = v as Record<string, unknown>;
    if (dim(s.height) && dim(s.width)) return { height: s.height as number, width: s.width as number };
  }
  return fail(
    `"size" must be a positive integer or {"height": h, "width": w} (ViTImageProcessor resizes to an exact ` +
      `size), got ${JSON.stringify(v)}`,
  );
}

function parseResample(v: unknown, fail: (p: string) => never): ResampleFilter {
  if (v === undefined || v === null) return "bilinear";
  if (typeof v === "number" && Object.hasOwn(PIL_RESAMPLE_CODES, v)) return PIL_RESAMPLE_CODES[v];
  return fail(`"resample" must be a PIL filter code 0-5 (2 = bilinear, 3 = bicubic), got ${JSON.stringify(v)}`);
}

/** The settings as HF's preprocessor_config.json (ViTImageProcessor), for the model's input size. */
export function toPreprocessorJson(
  p: PreprocessorConfig,
  size: { height: number; width: number },
): Record<string, unknown> {
  const resample = Number(Object.entries(PIL_RESAMPLE_CODES).find(([, f]) => f === p.resample)?.[0] ?? 2);
  return {
    image_processor_type: "ViTImageProcessor",
    do_resize: p.doResize,
    size,
    resample,
    do_rescale: p.doRescale,
    rescale_factor: p.rescaleFactor,
    do_normalize: p.doNormalize,
    image_mean: p.imageMean,
    image_std: p.imageStd,
  };
}
