// Gray <-> RGB conversion of 8-bit images, bit-exact with PIL's convert("RGB") and convert("L") (libImaging/Convert.c).

import type { Image } from "../io/image.ts";

/** An image that cannot be made into model input: malformed, or with channels the model cannot take. */
export class PreprocessError extends Error {
  override name = "PreprocessError";
}

/**
 * The image with `channels` channels: gray -> RGB replicates the gray value; RGB -> gray is ITU-R 601-2
 * luma, L = R·299/1000 + G·587/1000 + B·114/1000, computed as PIL does in 16-bit fixed point with
 * rounding: (R·19595 + G·38470 + B·7471 + 2^15) >> 16. The same image is returned when nothing changes.
 */
export function convertChannels(image: Image, channels: number): Image {
  checkImage(image);
  const name = image.source === undefined ? "image" : `image ${JSON.stringify(image.source)}`;
  if (channels !== 1 && channels !== 3) {
    throw new PreprocessError(`${name}: the model wants ${channels} channels; only 1 (gray) and 3 (RGB) are supported`);
  }
  if (image.channels === channels) return image;
  const n = image.width * image.height;
  const from = image.data;
  const out = new Uint8Array(n * channels);
  if (channels === 3) {
    for (let p = 0; p < n; p++) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = from[p];
  } else {
    for (let p = 0; p < n; p++) {
      out[p] = (from[3 * p] * 19595 + from[3 * p + 1] * 38470 + from[3 * p + 2] * 7471 + 0x8000) >>> 16;
    }
  }
  return { width: image.width, height: image.height, channels, data: out, source: image.source };
}

/** Throws a PreprocessError unless `image` is a well-formed 8-bit gray or RGB image. */
export function checkImage(image: Image): void {
  const name = image.source === undefined ? "image" : `image ${JSON.stringify(image.source)}`;
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PreprocessError(`${name}: size must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new PreprocessError(`${name} has ${String(channels)} channels; only 1 (gray) and 3 (RGB) are supported`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new PreprocessError(
      `${name}: ${width}x${height}x${channels} needs ${width * height * channels} bytes of HWC data, ` +
        `got ${data instanceof Uint8Array ? `${data.length} bytes` : describe(data)}`,
    );
  }
}

function describe(v: unknown): string {
  return v === null || v === undefined ? String(v) : ((v as object).constructor?.name ?? typeof v);
}
