// torchvision's RandomResizedCrop on 8-bit images, driven by a PRNG key (torchvision/transforms/transforms.py).

import { foldIn, uniformArray, type Key } from "../core/prng.ts";
import type { Image } from "../io/image.ts";
import { resize, type ResampleFilter } from "./resize.ts";

/** A crop: rows [top, top + h), columns [left, left + w). `fallback` when no sampled box fitted (the center crop). */
export interface CropBox {
  top: number;
  left: number;
  h: number;
  w: number;
  fallback: boolean;
}

/** torchvision's defaults, which MAE's main_pretrain.py keeps except for scale (0.2, 1). */
export const MAE_CROP_SCALE: readonly [number, number] = [0.2, 1.0];
export const DEFAULT_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];
const ATTEMPTS = 10;

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 tries of an area fraction uniform in `scale`
 * and an aspect ratio w/h log-uniform in `ratio`; the first box that fits is placed uniformly at
 * random. If none fits, the center crop of the whole image with its ratio clamped into `ratio`.
 * Attempt a draws its 4 uniforms from foldIn(key, a).
 */
export function randomResizedCropParams(
  key: Key,
  width: number,
  height: number,
  scale: readonly [number, number] = MAE_CROP_SCALE,
  ratio: readonly [number, number] = DEFAULT_CROP_RATIO,
): CropBox {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`randomResizedCrop: image size must be positive integers, got ${width}x${height}`);
  }
  if (!(scale[0] > 0 && scale[0] <= scale[1] && Number.isFinite(scale[1]))) {
    throw new RangeError(`randomResizedCrop: scale must be (min, max) with 0 < min <= max, got [${scale.join(", ")}]`);
  }
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1] && Number.isFinite(ratio[1]))) {
    throw new RangeError(`randomResizedCrop: ratio must be (min, max) with 0 < min <= max, got [${ratio.join(", ")}]`);
  }
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const [uArea, uRatio, uTop, uLeft] = uniformArray(foldIn(key, attempt), 4);
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * uArea);
    const aspectRatio = Math.exp(logRatio[0] + (logRatio[1] - logRatio[0]) * uRatio);
    const w = roundHalfEven(Math.sqrt(targetArea * aspectRatio));
    const h = roundHalfEven(Math.sqrt(targetArea / aspectRatio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      // torch.randint(0, n + 1): uniform over the n + 1 placements.
      const top = Math.floor(uTop * (height - h + 1));
      const left = Math.floor(uLeft * (width - w + 1));
      return { top, left, h, w, fallback: false };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), h, w, fallback: true };
}

/** The sub-image under `box` (PIL's crop; the box must lie inside the image). */
export function crop(image: Image, box: Pick<CropBox, "top" | "left" | "h" | "w">): Image {
  const { top, left, h, w } = box;
  if (!(top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= image.height && left + w <= image.width)) {
    throw new RangeError(
      `crop: box top=${top} left=${left} h=${h} w=${w} is not inside the ${image.width}x${image.height} image`,
    );
  }
  const { channels } = image;
  const data = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const from = ((top + y) * image.width + left) * channels;
    data.set(image.data.subarray(from, from + w * channels), y * w * channels);
  }
  return { width: w, height: h, channels, data, source: image.source };
}

export interface RandomResizedCropOptions {
  width: number;
  height: number;
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  filter?: ResampleFilter;
}

/** Crop at random, then resize to `width` x `height` (PIL bicubic by default, as MAE's interpolation=3). */
export function randomResizedCrop(image: Image, key: Key, options: RandomResizedCropOptions): Image {
  const box = randomResizedCropParams(key, image.width, image.height, options.scale, options.ratio);
  return resize(crop(image, box), options.width, options.height, options.filter ?? "bicubic");
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
