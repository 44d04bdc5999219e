// Image -> model pixels [C, H, W], bit-exact with HF's ViTImageProcessor (image_processing_vit.py, image_transforms.py).
//
// HF's steps on an 8-bit image: PIL resize to (height, width) with the configured filter (bilinear),
// rescale in float64 then cast to float32, normalize (x - mean) / std in float32. Each float32
// rounding is reproduced with Math.fround, so the result is bit for bit what HF gives for the same
// uint8 input.

import type { Image } from "../io/image.ts";
import { PreprocessError, checkImage, convertChannels } from "./convertChannels.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, type PreprocessorConfig } from "./preprocessorConfig.ts";
import { resize, type ResampleFilter } from "./resize.ts";

/** The model's input and the processor's settings; unset settings take the MAE defaults. */
export interface PreprocessOptions {
  height: number;
  width: number;
  /** The model's num_channels: images are converted to it (gray -> RGB by replication, RGB -> gray by PIL's "L"). */
  channels: number;
  doResize?: boolean;
  resample?: ResampleFilter;
  doRescale?: boolean;
  rescaleFactor?: number;
  doNormalize?: boolean;
  /** One value, or one per channel. For a 1-channel model a 3-value list gives its first value (HF would refuse). */
  mean?: number | readonly number[];
  std?: number | readonly number[];
}

/** The options for a model of `height` x `width` x `channels` from a checkpoint's preprocessor config. */
export function preprocessOptions(
  config: PreprocessorConfig,
  model: { height: number; width: number; channels: number },
): PreprocessOptions {
  return {
    ...model,
    doResize: config.doResize,
    resample: config.resample,
    doRescale: config.doRescale,
    rescaleFactor: config.rescaleFactor,
    doNormalize: config.doNormalize,
    mean: config.imageMean,
    std: config.imageStd,
  };
}

/** Pixels [C, H, W] (float32) ready for the model: convert channels, resize, rescale, normalize. */
export function preprocess(image: Image, options: PreprocessOptions): Float32Array {
  checkImage(image);
  const { height, width } = options;
  let img = convertChannels(image, options.channels);
  if (options.doResize ?? true) {
    img = resize(img, width, height, options.resample ?? DEFAULT_PREPROCESSOR_CONFIG.resample);
  } else if (img.width !== width || img.height !== height) {
    throw new PreprocessError(
      `${nameOf(image)} is ${img.width}x${img.height} but the model takes ${width}x${height}, ` +
        "and do_resize is false",
    );
  }
  return toNormalizedCHW(img, options);
}

/** Rescale and normalize an image already at the model's size, into [C, H, W]; shared with augmentation. */
export function toNormalizedCHW(
  image: Image,
  options: Pick<PreprocessOptions, "doRescale" | "rescaleFactor" | "doNormalize" | "mean" | "std">,
): Float32Array {
  const { width, height, channels, data } = image;
  const rescaleFactor = options.rescaleFactor ?? DEFAULT_PREPROCESSOR_CONFIG.rescaleFactor;
  const scale = (options.doRescale ?? true) ? checkedRescale(rescaleFactor) : 1;
  const normalize = options.doNormalize ?? true;
  // numpy casts mean and std to the image's float32 before (x - mean) / std.
  const mean = perChannel(options.mean ?? DEFAULT_PREPROCESSOR_CONFIG.imageMean, channels, "mean").map(Math.fround);
  const std = perChannel(options.std ?? DEFAULT_PREPROCESSOR_CONFIG.imageStd, channels, "std").map(Math.fround);
  const plane = width * height;
  const out = new Float32Array(channels * plane);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const x = Math.fround(data[p * channels + c] * scale); // HF: float64 multiply, then astype(float32)
      out[c * plane + p] = normalize ? Math.fround(x - mean[c]) / std[c] : x; // the Float32Array rounds the quotient
    }
  }
  return out;
}

/**
 * Back to a picture: x·std + mean, divided by the rescale factor (·255), rounded and clipped to 0..255,
 * as HWC. NaN becomes 0. Inverts `preprocess`'s rescale and normalize exactly for 8-bit inputs.
 */
export function unnormalize(
  pixels: Float32Array | Float64Array,
  shape: { channels: number; height: number; width: number },
  mean: number | readonly number[] = DEFAULT_PREPROCESSOR_CONFIG.imageMean,
  std: number | readonly number[] = DEFAULT_PREPROCESSOR_CONFIG.imageStd,
  rescaleFactor = DEFAULT_PREPROCESSOR_CONFIG.rescaleFactor,
): Image {
  const { channels, height, width } = shape;
  if (channels !== 1 && channels !== 3)
    throw new PreprocessError(`unnormalize: channels must be 1 or 3, got ${channels}`);
  const plane = width * height;
  if (!Number.isInteger(plane) || plane < 1 || pixels.length !== channels * plane) {
    const needed = channels * plane;
    throw new PreprocessError(
      `unnormalize: [${channels}, ${height}, ${width}] needs ${needed} values, got ${pixels.length}`,
    );
  }
  const m = perChannel(mean, channels, "mean");
  const s = perChannel(std, channels, "std");
  const scale = checkedRescale(rescaleFactor);
  const data = new Uint8Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.round((pixels[c * plane + p] * s[c] + m[c]) / scale);
      data[p * channels + c] = v > 255 ? 255 : v > 0 ? v : 0; // NaN fails both tests: 0
    }
  }
  return { width, height, channels, data };
}

/** Mean or std for each of `channels`: a number repeats; a 3-list for a gray model gives its first value. */
export function perChannel(v: number | readonly number[], channels: number, what: string): number[] {
  const values =
    typeof v === "number"
      ? Array<number>(channels).fill(v)
      : v.length === 1
        ? Array<number>(channels).fill(v[0])
        : v.length === 3 && channels === 1
          ? [v[0]]
          : v.slice();
  if (values.length !== channels) {
    throw new PreprocessError(
      `${what} ${JSON.stringify(v)} has ${values.length} values for an image with ${channels} channels`,
    );
  }
  if (!values.every(Number.isFinite)) throw new PreprocessError(`${what} ${JSON.stringify(v)} must be finite numbers`);
  if (what === "std" && values.some((x) => x === 0)) throw new PreprocessError(`std ${JSON.stringify(v)} has a zero`);
  return values;
}

function checkedRescale(r: number): number {
  if (!(Number.isFinite(r) && r > 0)) throw new PreprocessError(`rescaleFactor must be a positive number, got ${r}`);
  return r;
}

function nameOf(image: Image): string {
  return image.source === undefined ? "the image" : `image ${JSON.stringify(image.source)}`;
}
