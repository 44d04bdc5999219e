// Composite ops for networks: softmax, layerNorm and the activations, each a few lines of primitives
// (their gradients come from the primitives' VJPs; no rules of their own).

import { normalizeAxis, type Shape } from "../shape.ts";
import { typed, type Tensor } from "../tensor.ts";
import {
  abs,
  add,
  div,
  equal,
  erf,
  exp,
  log,
  maximum,
  minimum,
  mul,
  rsqrt,
  sigmoid,
  sub,
  tanh,
  where,
  greater,
} from "./elementwise.ts";
import { max, mean, sum, variance } from "./reduce.ts";
import { stopGradient } from "./stopGradient.ts";

// Written on erased shapes (Tensor) inside; the exported signatures keep the caller's shape type.
const shapePreserving =
  (f: (x: Tensor) => Tensor) =>
  <S extends Shape>(x: Tensor<S>): Tensor<S> =>
    typed<S>(f(x));

/** exp(x - max) / Σ exp(x - max) along `axis`; the max shift is for range only (no gradient). */
/** The composite softmax (the fused one in fused.ts is tested against it). */
export function softmaxComposite<S extends Shape>(x: Tensor<S>, axis = -1): Tensor<S> {
  normalizeAxis("softmax", axis, x.shape.length); // a bad axis is reported as softmax's, not max's
  const e = exp(sub(x as Tensor, stopGradient(max(x, axis, { keepdims: true }))));
  return typed<S>(div(e, sum(e, axis, { keepdims: true })));
}

/** log softmax, computed as x - logsumexp(x) for accuracy. */
export function logSoftmax<S extends Shape>(x: Tensor<S>, axis = -1): Tensor<S> {
  normalizeAxis("logSoftmax", axis, x.shape.length);
  return typed<S>(sub(x as Tensor, logSumExp(x, axis, true)));
}

export function logSumExp(x: Tensor, axis = -1, keepdims = false): Tensor {
  normalizeAxis("logSumExp", axis, x.shape.length);
  // An infinite max would make x - m NaN; shifting by 0 there gives -inf for an all -inf row and +inf for a +inf (torch).
  const top = stopGradient(max(x, axis, { keepdims: true }));
  const m = where(equal(abs(top), Infinity), 0, top);
  const lse = add(log(sum(exp(sub(x, m)), axis, { keepdims: true })), m);
  return keepdims ? lse : sum(lse, axis);
}

/** (x - mean) / √(var + eps) · weight + bias over the last axis; biased variance, eps inside the root (HF). */
/** The composite layer norm (the fused one in fused.ts is tested against it). */
export function layerNormComposite<S extends Shape>(
  x: Tensor<S>,
  weight: Tensor,
  bias: Tensor,
  eps: number,
): Tensor<S> {
  const mu = mean(x, -1, { keepdims: true });
  const v = variance(x, -1, { keepdims: true });
  return typed<S>(add(mul(mul(sub(x as Tensor, mu), rsqrt(add(v, eps))), weight), bias));
}

/** GELU, exact: x·Φ(x) = ½x(1 + erf(x/√2)) (HF "gelu"). */
export const geluComposite = shapePreserving((x) => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1)));

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (HF "gelu_new", "gelu_pytorch_tanh"). */
export const geluTanh = shapePreserving((x) =>
  mul(mul(x, 0.5), add(tanh(mul(add(x, mul(mul(mul(x, x), x), 0.044715)), SQRT_2_OVER_PI)), 1)),
);

/** HF "gelu_fast": the same tanh form written as 0.7978845608·x·(1 + 0.044715x²). */
export const geluFast = shapePreserving((x) =>
  mul(mul(x, 0.5), add(tanh(mul(mul(x, 0.7978845608), add(mul(mul(x, x), 0.044715), 1))), 1)),
);

/** x·σ(1.702x) (HF "quick_gelu"). */
export const quickGelu = shapePreserving((x) => mul(x, sigmoid(mul(x, 1.702))));

/** x·σ(x) (HF "silu" / "swish"). */
export const silu = shapePreserving((x) => mul(x, sigmoid(x)));

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
/** scale·(max(0,x) + min(0, α(eˣ - 1))). */
export const selu = shapePreserving((x) =>
  mul(add(maximum(x, 0), minimum(mul(sub(exp(minimum(x, 0)), 1), SELU_ALPHA), 0)), SELU_SCALE),
);

/** max(0, x) for x > 0, else slope·x. */
export const leakyRelu = <S extends Shape>(x: Tensor<S>, slope = 0.01): Tensor<S> =>
  typed<S>(where(greater(x as Tensor, 0), x, mul(x as Tensor, slope)));
