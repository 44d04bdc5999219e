// Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) with label mixing, as timm's Mixup in "batch" mode that
// MAE's fine-tuning uses: one λ per batch; each image is mixed with the batch reversed (image i with B−1−i).

import * as T from "../core/index.ts";
import type { Key } from "../core/index.ts";
import { smoothedTargets } from "../nn/crossEntropy.ts";

export interface MixupOptions {
  /** Beta(α, α) for mixup's λ; 0 turns mixup off (MAE's recipe: 0.8). */
  mixupAlpha: number;
  /** Beta(α, α) for cutmix's λ; 0 turns cutmix off (MAE's recipe: 1.0). */
  cutmixAlpha: number;
  /** The probability of mixing a batch at all (timm: 1.0). */
  prob: number;
  /** With both on, the probability of cutmix instead of mixup (timm: 0.5). */
  switchProb: number;
  /** Label smoothing folded into the mixed targets (MAE: 0.1). */
  labelSmoothing: number;
}

export const MAE_MIXUP: MixupOptions = {
  mixupAlpha: 0.8,
  cutmixAlpha: 1.0,
  prob: 1.0,
  switchProb: 0.5,
  labelSmoothing: 0.1,
};

export interface Mixed {
  /** [B, C, H, W], mixed. */
  pixels: Float32Array;
  /** [B, K] soft targets: λ·smooth(y_i) + (1 − λ)·smooth(y_{B−1−i}). */
  targets: Float32Array;
  /** The weight of each image's own label (after cutmix's area correction). */
  lam: number;
  mode: "mixup" | "cutmix" | "none";
  /** Cutmix's pasted box, rows [yl, yh) and columns [xl, xh). */
  box?: { yl: number; yh: number; xl: number; xh: number };
}

/** Where the host-side draws are made: the chosen backend, or the reference where that reads only asynchronously (a GPU). */
const host = (): { backend?: string } => (T.backend().canReadSync ? {} : { backend: "reference" });

/** Uniform draws in [0, 1) from a key. */
const uniforms = (k: Key, n: number): number[] => Array.from(T.random.uniform(k, [n], 0, 1, host()).toArray());

/** Gamma(a, 1) by Marsaglia & Tsang (2000); for a < 1, Gamma(a + 1)·U^(1/a). */
function sampleGamma(k: Key, a: number): number {
  const [boostKey, loopKey] = T.random.split(k, 2);
  const boost = a < 1 ? uniforms(boostKey, 1)[0] ** (1 / a) : 1;
  const shape = a < 1 ? a + 1 : a;
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (let round = 0; ; round++) {
    const [nk, uk] = T.random.split(T.random.foldIn(loopKey, round), 2);
    const normals = T.random.normal(nk, [32], 0, 1, host()).toArray();
    const us = uniforms(uk, 32);
    for (let i = 0; i < 32; i++) {
      const x = normals[i];
      const v = (1 + c * x) ** 3;
      if (v > 0 && Math.log(us[i]) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * boost;
    }
  }
}

/** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(k: Key, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`sampleBeta: parameters must be > 0, got (${a}, ${b})`);
  const [ka, kb] = T.random.split(k, 2);
  const x = sampleGamma(ka, a);
  const y = sampleGamma(kb, b);
  return x / (x + y);
}

/**
 * timm's rand_bbox: a box of side int(H·√(1−λ)) × int(W·√(1−λ)) centred at a uniform pixel, clipped to the
 * image; then λ is corrected to 1 − box area / image area (cutmix_bbox_and_lam, correct_lam=True).
 */
export function cutmixBox(
  h: number,
  w: number,
  lam: number,
  u: readonly [number, number],
): { box: { yl: number; yh: number; xl: number; xh: number }; lam: number } {
  const ratio = Math.sqrt(1 - lam);
  const cutH = Math.trunc(h * ratio);
  const cutW = Math.trunc(w * ratio);
  const cy = Math.floor(u[0] * h);
  const cx = Math.floor(u[1] * w);
  const clip = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  const box = {
    yl: clip(cy - Math.floor(cutH / 2), h),
    yh: clip(cy + Math.floor(cutH / 2), h),
    xl: clip(cx - Math.floor(cutW / 2), w),
    xh: clip(cx + Math.floor(cutW / 2), w),
  };
  return { box, lam: 1 - ((box.yh - box.yl) * (box.xh - box.xl)) / (h * w) };
}

/** Mixes a batch [B, C, H, W] (B even) with its reverse and mixes the labels alike; a pure function of the key. */
export function mixupBatch(
  pixels: Float32Array,
  shape: readonly [number, number, number, number],
  labels: ArrayLike<number>,
  numClasses: number,
  key: Key,
  opts: MixupOptions,
): Mixed {
  const [b, c, h, w] = shape;
  if (pixels.length !== b * c * h * w || labels.length !== b)
    throw new RangeError(
      `mixupBatch: ${pixels.length} pixel values and ${labels.length} labels for a [${shape}] batch`,
    );
  if (b % 2 !== 0) throw new RangeError(`mixupBatch: the batch size must be even (timm's batch mode), got ${b}`);
  const [coinKey, switchKey, betaKey, boxKey] = T.random.split(key, 4);
  const mixupOn = opts.mixupAlpha > 0;
  const cutmixOn = opts.cutmixAlpha > 0;
  let mode: Mixed["mode"] = "none";
  let lam = 1;
  if ((mixupOn || cutmixOn) && uniforms(coinKey, 1)[0] < opts.prob) {
    const useCutmix = mixupOn && cutmixOn ? uniforms(switchKey, 1)[0] < opts.switchProb : cutmixOn;
    const alpha = useCutmix ? opts.cutmixAlpha : opts.mixupAlpha;
    lam = sampleBeta(betaKey, alpha, alpha);
    mode = useCutmix ? "cutmix" : "mixup";
  }
  const out = Float32Array.from(pixels);
  const image = c * h * w;
  let box: Mixed["box"];
  if (mode === "mixup") {
    for (let i = 0; i < b; i++) {
      const j = b - 1 - i;
      for (let p = 0; p < image; p++)
        out[i * image + p] = pixels[i * image + p] * lam + pixels[j * image + p] * (1 - lam);
    }
  } else if (mode === "cutmix") {
    const [u0, u1] = uniforms(boxKey, 2);
    ({ box, lam } = cutmixBox(h, w, lam, [u0, u1]));
    for (let i = 0; i < b; i++) {
      const j = b - 1 - i;
      for (let ch = 0; ch < c; ch++)
        for (let y = box.yl; y < box.yh; y++)
          for (let x = box.xl; x < box.xh; x++) {
            const at = (ch * h + y) * w + x;
            out[i * image + at] = pixels[j * image + at];
          }
    }
  }
  const own = smoothedTargets(labels, numClasses, opts.labelSmoothing);
  const targets = new Float32Array(b * numClasses);
  for (let i = 0; i < b; i++)
    for (let k = 0; k < numClasses; k++)
      targets[i * numClasses + k] = own[i * numClasses + k] * lam + own[(b - 1 - i) * numClasses + k] * (1 - lam);
  return { pixels: out, targets, lam, mode, box };
}
