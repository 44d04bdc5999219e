// Fused primitives for the hot composites — softmax and layer norm — each one kernel pass with a
// hand-derived VJP beside it. They are measurably faster than their compositions (bench
// block-fwdbwd), which stay in activations.ts as their tests (test/core/fused.test.ts). (Exact GELU
// is an elementwise op of its own: see elementwise.ts.)
//
// Their backward passes are kernels too. A VJP must itself be differentiable (grad of grad), so
// when an open trace records through a backward pass's inputs, the backward is written out in ops
// instead; otherwise nothing needs its graph and the kernel runs.

import { fmt, normalizeAxis, ShapeError, type Shape } from "../shape.ts";
import { isTraced } from "../tape.ts";
import { typed, type Tensor } from "../tensor.ts";
import { layerNormComposite, softmaxComposite } from "./activations.ts";
import { mul, rsqrt, sub, add } from "./elementwise.ts";
import { moveAxis, reshape } from "./movement.ts";
import { emit, emitMany } from "./primitive.ts";
import { mean, sum, variance } from "./reduce.ts";

// ---- softmax ----
// y = e^(x - max) / Σ e^(x - max);   dx = y ⊙ (dy - Σ(dy ⊙ y))

export function softmax<S extends Shape>(x: Tensor<S>, axis = -1): Tensor<S> {
  const last = x.shape.length - 1;
  const ax = normalizeAxis("softmax", axis, x.shape.length);
  if (ax !== last) return typed<S>(moveAxis(softmax(moveAxis(x, ax, last)), last, ax));
  if (x.size === 0) return x; // nothing to normalise (an empty axis included, as torch)
  const y: Tensor = emit({
    op: "softmax",
    inputs: [x],
    shape: x.shape,
    launch: (be, [v], [out]) => be.softmax(v, out),
    vjp: (dy) => [softmaxBackward(y, dy)],
  });
  return typed<S>(y);
}

function softmaxBackward(y: Tensor, dy: Tensor): Tensor {
  if (isTraced(y) || isTraced(dy)) return mul(y, sub(dy, sum(mul(dy, y), -1, { keepdims: true })));
  return emit({
    op: "softmaxBackward",
    inputs: [y, dy],
    shape: y.shape,
    launch: (be, [yv, g], [out]) => be.softmaxBackward(yv, g, out),
    vjp: null,
  });
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
  const rows = x.shape.slice(0, -1);
  const [y, mu, rstd] = emitMany({
    op: "layerNorm",
    inputs: [x, weight, bias],
    outputs: [x.shape, rows, rows],
    launch: (be, [v, w, b], [out, m, r]) => be.layerNorm(v, w, b, eps, out, m, r),
    vjp: (dy, needs) => layerNormBackward(dy, x, weight, bias, eps, mu, rstd, needs),
  });
  return typed<S>(y);
}

function layerNormBackward(
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  mu: Tensor,
  rstd: Tensor,
  needs: readonly boolean[],
): (Tensor | null)[] {
  const rowAxes = x.shape.slice(0, -1).map((_, i) => i);
  if ([dy, x, weight, bias].some(isTraced)) {
    // Written out in ops (μ and r recomputed from x, so their dependence on x is differentiated too).
    const r = rsqrt(add(variance(x, -1, { keepdims: true }), eps));
    const xhat = mul(sub(x, mean(x, -1, { keepdims: true })), r);
    const g = mul(dy, weight);
    const dx = mul(
      r,
      sub(sub(g, mean(g, -1, { keepdims: true })), mul(xhat, mean(mul(g, xhat), -1, { keepdims: true }))),
    );
    return [needs[0] ? dx : null, needs[1] ? sum(mul(dy, xhat), rowAxes) : null, needs[2] ? sum(dy, rowAxes) : null];
  }
  const d = x.shape[x.shape.length - 1];
  const [dx, dw, db] = emitMany({
    op: "layerNormBackward",
    inputs: [dy, x, weight, mu, rstd],
    outputs: [x.shape, [d], [d]],
    launch: (be, [g, v, w, m, r], [ox, ow, ob]) =>
      be.layerNormBackward(g, v, w, m, r, needs[0] ? ox : null, needs[1] ? ow : null, needs[2] ? ob : null),
    vjp: null,
  });
  return [needs[0] ? dx : null, needs[1] ? reshape(dw, [d]) : null, needs[2] ? reshape(db, [d]) : null];
}

export { softmaxComposite };
