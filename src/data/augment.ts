// MAE's pre-training augmentation (main_pretrain.py): random resized crop (bicubic), horizontal flip, ToTensor, Normalize.

import { split, uniformArray, type Key } from "../core/prng.ts";
import type { Image } from "../io/image.ts";
import { checkImage, convertChannels } from "./convertChannels.ts";
import { toNormalizedCHW, type PreprocessOptions } from "./preprocess.ts";
import { DEFAULT_CROP_RATIO, MAE_CROP_SCALE, randomResizedCrop } from "./randomResizedCrop.ts";
import type { ResampleFilter } from "./resize.ts";

/** The augmentation's knobs; the defaults are MAE's. */
export interface AugmentOptions {
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  /** The crop's resize filter: MAE's interpolation=3 is PIL bicubic. */
  filter?: ResampleFilter;
  flipProbability?: number;
}

/**
 * One augmented view [C, H, W] of `image`, a pure function of (image, key): convert channels to the
 * model's, crop at random and resize to (height, width), mirror with probability 1/2, then rescale and
 * normalize exactly as `preprocess` does (torchvision's ToTensor v/255 equals HF's v·(1/255) in float32
 * for every uint8). The key splits into a crop key and a flip key.
 */
export function augment(image: Image, key: Key, options: PreprocessOptions & AugmentOptions): Float32Array {
  checkImage(image);
  const p = options.flipProbability ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`augment: flipProbability must be in [0, 1], got ${p}`);
  const [cropKey, flipKey] = split(key, 2);
  let img = convertChannels(image, options.channels);
  img = randomResizedCrop(img, cropKey, {
    width: options.width,
    height: options.height,
    scale: options.scale ?? MAE_CROP_SCALE,
    ratio: options.ratio ?? DEFAULT_CROP_RATIO,
    filter: options.filter ?? "bicubic",
  });
  if (uniformArray(flipKey, 1)[0] < p) img = flipHorizontal(img); // torchvision: flip when torch.rand(1) < p
  return toNormalizedCHW(img, options);
}

/** The mirror image: column x goes to width - 1 - x. */
export function flipHorizontal(image: Image): Image {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * channels;
      const to = (y * width + (width - 1 - x)) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c];
    }
  }
  return { width, height, channels, data: out, source: image.source };
}
