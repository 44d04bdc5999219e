// Image resizing bit-exact with PIL's Image.resize on 8-bit images (Pillow's libImaging/Resample.c and Geometry.c).
//
// Every filter but nearest is a separable convolution: a horizontal pass, then a vertical one, each
// rounding and clipping to uint8. When downscaling by s the kernel is stretched by s (so it
// antialiases), and each output's taps are renormalised to sum to 1, then turned into 22-bit fixed
// point, exactly as PIL does.

import type { Image } from "../io/image.ts";

/** PIL's resampling filters (`PIL.Image.Resampling`), by name. */
export type ResampleFilter = "nearest" | "box" | "bilinear" | "hamming" | "bicubic" | "lanczos";

/** PIL's integer codes, as `resample` appears in a preprocessor_config.json. */
export const PIL_RESAMPLE_CODES: Record<number, ResampleFilter> = {
  0: "nearest",
  1: "lanczos",
  2: "bilinear",
  3: "bicubic",
  4: "box",
  5: "hamming",
};

interface Kernel {
  support: number;
  weight: (x: number) => number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

const KERNELS: Record<Exclude<ResampleFilter, "nearest">, Kernel> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  hamming: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      return sinc(x) * (0.54 + 0.46 * Math.cos(Math.PI * x));
    },
  },
  // Keys' cubic convolution with a = -0.5 (PyTorch's bicubic uses -0.75).
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** PIL: 32 bits less 8 for the result and 2 for the overshoot of negative lobes. */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;

/** Resizes to `width` x `height` as PIL's `image.resize((width, height), filter)` does for mode L or RGB. */
export function resize(image: Image, width: number, height: number, filter: ResampleFilter): Image {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize: the target size must be positive integers, got ${width}x${height}`);
  }
  if (width === image.width && height === image.height) return { ...image, data: image.data.slice() };
  if (filter === "nearest") return resizeNearest(image, width, height);
  const kernel = KERNELS[filter];
  if (kernel === undefined) throw new RangeError(`resize: unknown filter ${JSON.stringify(filter)}`);
  let out = image;
  // PIL skips a pass whose size does not change (it would be the identity anyway).
  if (width !== image.width) out = resamplePass(out, width, out.height, coefficients(out.width, width, kernel), true);
  if (height !== image.height)
    out = resamplePass(out, out.width, height, coefficients(out.height, height, kernel), false);
  return out;
}

/** For each output index: the first input tap and the fixed-point weights (PIL's precompute_coeffs). */
function coefficients(inSize: number, outSize: number, kernel: Kernel): { first: Int32Array; weights: Int32Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1); // stretch the kernel only when shrinking
  const support = kernel.support * filterScale;
  const invScale = 1 / filterScale; // PIL multiplies by the reciprocal; dividing can differ in the last bit
  const first = new Int32Array(outSize);
  const weights: Int32Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
    const w = new Float64Array(Math.max(0, xmax - xmin));
    let sum = 0;
    for (let x = 0; x < w.length; x++) {
      w[x] = kernel.weight((x + xmin - center + 0.5) * invScale);
      sum += w[x];
    }
    const fixed = new Int32Array(w.length);
    for (let x = 0; x < w.length; x++) {
      const k = sum !== 0 ? w[x] / sum : w[x];
      fixed[x] = Math.trunc(k < 0 ? k * ONE - 0.5 : k * ONE + 0.5); // round half away from zero
    }
    first[xx] = xmin;
    weights.push(fixed);
  }
  return { first, weights };
}

/** One separable pass along x (`horizontal`) or y, each sample rounded and clipped to 0..255. */
function resamplePass(
  image: Image,
  width: number,
  height: number,
  coeffs: { first: Int32Array; weights: Int32Array[] },
  horizontal: boolean,
): Image {
  const { channels, data } = image;
  const out = new Uint8Array(width * height * channels);
  const rowStride = image.width * channels;
  const tapStride = horizontal ? channels : rowStride;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = horizontal ? x : y;
      const w = coeffs.weights[o];
      const base = horizontal ? y * rowStride + coeffs.first[o] * channels : coeffs.first[o] * rowStride + x * channels;
      for (let c = 0; c < channels; c++) {
        let acc = ONE / 2; // PIL starts at one half: the floor below then rounds
        for (let t = 0; t < w.length; t++) acc += data[base + t * tapStride + c] * w[t];
        const v = Math.floor(acc / ONE); // exact: every term is an integer below 2^53
        out[(y * width + x) * channels + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { width, height, channels, data: out, source: image.source };
}

/** PIL's nearest: source index floor((i + 0.5)·scale), with the position accumulated step by step as PIL does. */
function resizeNearest(image: Image, width: number, height: number): Image {
  const { channels, data } = image;
  const sourceIndex = (inSize: number, outSize: number): Int32Array => {
    const step = inSize / outSize;
    const index = new Int32Array(outSize);
    let pos = step * 0.5;
    for (let i = 0; i < outSize; i++, pos += step) index[i] = Math.min(inSize - 1, Math.floor(pos));
    return index;
  };
  const xs = sourceIndex(image.width, width);
  const ys = sourceIndex(image.height, height);
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (ys[y] * image.width + xs[x]) * channels;
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = data[from + c];
    }
  }
  return { width, height, channels, data: out, source: image.source };
}
