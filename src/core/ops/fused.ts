// Fused primitives for the hot composites — softmax, layerNorm, exact GELU — each one pass over
// the data with a hand-derived VJP beside it. They are measurably faster than their compositions
// (bench block-fwdbwd), which stay in activations.ts as their tests (test/core/fused.test.ts).

import { allocStorage, backend, type Storage } from "../backend.ts";
import { contiguous } from "../backends/reference.ts";
import { erf as erfScalar } from "../prng.ts";
import { fmt, normalizeAxis, ShapeError, type Shape } from "../shape.ts";
import { fromStorage, type Tensor } from "../tensor.ts";
import { softmaxComposite, layerNormComposite } from "./activations.ts";
import { emit } from "./primitive.ts";

/** Rows along the last axis: d per row, n rows. */
const rows = (t: Tensor) => {
  const d = t.shape[t.shape.length - 1];
  return { d, n: d === 0 ? 0 : t.size / d, data: contiguous(t) };
};
const plain = (data: Storage, shape: Shape): Tensor => fromStorage(data, shape);

// ---- softmax over the last axis ----
// y = e^(x - max) / Σ e^(x - max);   dx = y ⊙ (dy - Σ(dy ⊙ y))

export function softmax<S extends Shape>(x: Tensor<S>, axis = -1): Tensor<S> {
  const ax = normalizeAxis("softmax", axis, x.shape.length);
  if (ax !== x.shape.length - 1 || x.size === 0) return softmaxComposite(x, axis);
  const { d, n, data } = rows(x);
  const kernel = backend().softmax; // a backend's own fused kernel (gpu.js), else the loop below
  const out = kernel ? kernel.call(backend(), x, ax) : allocStorage(x.size);
  for (let r = 0; r < (kernel ? 0 : n); r++) {
    const o = r * d;
    let m = -Infinity;
    for (let j = 0; j < d; j++) if (data[o + j] > m) m = data[o + j];
    if (m === -Infinity || m === Infinity) m = 0; // all masked, or +inf present: let NaN/∞ arise as in the composite
    let s = 0;
    for (let j = 0; j < d; j++) s += out[o + j] = Math.exp(data[o + j] - m);
    for (let j = 0; j < d; j++) out[o + j] /= s;
  }
  const y: Tensor<S> = emit("softmax", out, x.shape, [x], (dy) => {
    const g = rows(dy).data;
    const dx = allocStorage(x.size);
    for (let r = 0; r < n; r++) {
      const o = r * d;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += g[o + j] * out[o + j];
      for (let j = 0; j < d; j++) dx[o + j] = out[o + j] * (g[o + j] - dot);
    }
    return [plain(dx, x.shape)];
  });
  return y;
}

// ---- layerNorm over the last axis (HF: biased variance, eps inside the root) ----
// x̂ = (x - μ)·r with r = 1/√(σ² + eps);  y = x̂·w + b
// g = dy·w:  dx = r·(g - mean(g) - x̂·mean(g·x̂));  dw = Σ dy·x̂;  db = Σ dy

export function layerNorm<S extends Shape>(x: Tensor<S>, weight: Tensor, bias: Tensor, eps: number): Tensor<S> {
  const d = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 1 || weight.shape[0] !== d || bias.shape.length !== 1 || bias.shape[0] !== d) {
    if (weight.size === d && bias.size === d) return layerNormComposite(x, weight, bias, eps);
    throw new ShapeError(
      `layerNorm: weight ${fmt(weight.shape)} and bias ${fmt(bias.shape)} must be [${d}] for input ${fmt(x.shape)}`,
    );
  }
  const { n, data } = rows(x);
  const w = rows(weight).data;
  const b = rows(bias).data;
  const xhat = allocStorage(x.size);
  const rstd = new Float64Array(n);
  const out = allocStorage(x.size);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += data[o + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (data[o + j] - mean) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    rstd[r] = rs;
    for (let j = 0; j < d; j++) {
      const h = (xhat[o + j] = (data[o + j] - mean) * rs);
      out[o + j] = h * w[j] + b[j];
    }
  }
  return emit("layerNorm", out, x.shape, [x, weight, bias], (dy, needs) => {
    const g = rows(dy).data;
    const dx = needs[0] ? allocStorage(x.size) : undefined;
    const dw = new Float64Array(d);
    const db = new Float64Array(d);
    for (let r = 0; r < n; r++) {
      const o = r * d;
      let meanG = 0;
      let meanGX = 0;
      for (let j = 0; j < d; j++) {
        const gj = g[o + j] * w[j];
        meanG += gj;
        meanGX += gj * xhat[o + j];
        dw[j] += g[o + j] * xhat[o + j];
        db[j] += g[o + j];
      }
      meanG /= d;
      meanGX /= d;
      if (dx) for (let j = 0; j < d; j++) dx[o + j] = rstd[r] * (g[o + j] * w[j] - meanG - xhat[o + j] * meanGX);
    }
    const asStorage = (a: Float64Array) => {
      const s = allocStorage(d);
      s.set(a);
      return s;
    };
    return [
      dx ? plain(dx, x.shape) : null,
      needs[1] ? plain(asStorage(dw), [d]) : null,
      needs[2] ? plain(asStorage(db), [d]) : null,
    ];
  });
}

// ---- GELU, exact: y = x·Φ(x);  dy/dx = Φ(x) + x·φ(x) ----

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export const gelu = <S extends Shape>(x: Tensor<S>): Tensor<S> => {
  const data = contiguous(x);
  const out = allocStorage(x.size);
  const cdf = allocStorage(x.size); // Φ(x), kept for the backward pass (in the working precision)
  for (let i = 0; i < out.length; i++) {
    const v = data[i];
    cdf[i] = 0.5 * (1 + erfScalar(v * Math.SQRT1_2));
    out[i] = v * cdf[i];
  }
  return emit("gelu", out, x.shape, [x], (dy) => {
    const g = contiguous(dy);
    const dx = allocStorage(x.size);
    for (let i = 0; i < dx.length; i++) {
      const v = data[i];
      dx[i] = g[i] * (cdf[i] + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
    return [plain(dx, x.shape)];
  });
};
