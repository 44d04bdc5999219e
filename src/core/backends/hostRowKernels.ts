// The reference kernels of the fused rows (softmax and layer norm over the last axis, and their
// backward passes) and of random draws: plain loops, the spec of the fast backends' versions.

import type { Distribution, KeyWords } from "../backend.ts";
import { Key, normalArray, truncatedNormalArray, uniformArray } from "../prng.ts";
import { contiguous, type HostArray, type HostView } from "./hostKernels.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---- Fused rows: softmax and layer norm over the last axis ----

/** Rows along the last axis: d per row, n rows, the data row-major. */
const rows = (v: HostView) => {
  const d = v.shape[v.shape.length - 1];
  return { d, n: d === 0 ? 0 : size(v.shape) / d, data: contiguous(v) };
};

export function softmax(x: HostView, out: HostArray, at: number): void {
  const { d, n, data } = rows(x);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    let m = -Infinity;
    for (let j = 0; j < d; j++) if (data[o + j] > m) m = data[o + j];
    if (m === -Infinity) m = 0; // a row of -inf gives NaN (0/0), as the composite and torch do
    let s = 0;
    for (let j = 0; j < d; j++) s += Math.exp(data[o + j] - m);
    for (let j = 0; j < d; j++) out[at + o + j] = Math.exp(data[o + j] - m) / s;
  }
}

export function softmaxBackward(y: HostView, dy: HostView, out: HostArray, at: number): void {
  const { d, n, data: yv } = rows(y);
  const g = contiguous(dy);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    let dot = 0;
    for (let j = 0; j < d; j++) dot += g[o + j] * yv[o + j];
    for (let j = 0; j < d; j++) out[at + o + j] = yv[o + j] * (g[o + j] - dot);
  }
}

export interface LayerNormOut {
  out: HostArray;
  at: number;
  mean: HostArray;
  meanAt: number;
  rstd: HostArray;
  rstdAt: number;
}

export function layerNorm(x: HostView, weight: HostView, bias: HostView, eps: number, o: LayerNormOut): void {
  const { d, n, data } = rows(x);
  const w = contiguous(weight);
  const b = contiguous(bias);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += data[r * d + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (data[r * d + j] - mean) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    o.mean[o.meanAt + r] = mean;
    o.rstd[o.rstdAt + r] = rs;
    for (let j = 0; j < d; j++) o.out[o.at + r * d + j] = (data[r * d + j] - mean) * rs * w[j] + b[j];
  }
}

export interface LayerNormGrads {
  dx: { data: HostArray; at: number } | null;
  dweight: { data: HostArray; at: number } | null;
  dbias: { data: HostArray; at: number } | null;
}

export function layerNormBackward(
  dy: HostView,
  x: HostView,
  weight: HostView,
  mean: HostView,
  rstd: HostView,
  o: LayerNormGrads,
): void {
  const { d, n, data: xv } = rows(x);
  const g = contiguous(dy);
  const w = contiguous(weight);
  const mu = contiguous(mean);
  const rs = contiguous(rstd);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    const xhat = (j: number) => (xv[r * d + j] - mu[r]) * rs[r];
    let meanG = 0;
    let meanGX = 0;
    for (let j = 0; j < d; j++) {
      const gj = g[r * d + j] * w[j];
      meanG += gj;
      meanGX += gj * xhat(j);
      dw[j] += g[r * d + j] * xhat(j);
      db[j] += g[r * d + j];
    }
    meanG /= d;
    meanGX /= d;
    if (o.dx)
      for (let j = 0; j < d; j++)
        o.dx.data[o.dx.at + r * d + j] = rs[r] * (g[r * d + j] * w[j] - meanG - xhat(j) * meanGX);
  }
  o.dweight?.data.set(dw, o.dweight.at);
  o.dbias?.data.set(db, o.dbias.at);
}

// ---- Random ----

/** `size` draws (the counter-based generator in prng.ts is the spec). */
export function random(dist: Distribution, key: KeyWords, n: number, out: HostArray, at: number): void {
  const k = Key.fromWords(key.hi, key.lo);
  let values: ArrayLike<number>;
  switch (dist.kind) {
    case "uniform": {
      const u = uniformArray(k, n);
      for (let i = 0; i < n; i++) u[i] = dist.low + (dist.high - dist.low) * u[i];
      values = u;
      break;
    }
    case "normal": {
      const z = normalArray(k, n);
      for (let i = 0; i < n; i++) z[i] = dist.mean + dist.std * z[i];
      values = z;
      break;
    }
    case "truncatedNormal": {
      const z = truncatedNormalArray(k, n, dist.lower, dist.upper);
      for (let i = 0; i < n; i++) z[i] *= dist.std;
      values = z;
      break;
    }
    case "bernoulli": {
      const u = uniformArray(k, n);
      for (let i = 0; i < n; i++) u[i] = u[i] < dist.p ? 1 : 0;
      values = u;
      break;
    }
  }
  out.set(values, at);
}
