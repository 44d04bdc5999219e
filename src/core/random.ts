// Random tensors from explicit keys: the same key gives the same numbers on every backend. Each
// draw is one kernel (counter-based: element i from counter i), so backends generate in parallel.

import type { Distribution } from "./backend.ts";
import { fromArray, placementOf, type CreateOptions } from "./creation.ts";
import { emit } from "./ops/primitive.ts";
import { checkKey, permutationArray, type Key } from "./prng.ts";
import { activeRecorder } from "./recorder.ts";
import { checkShape, fmt, shapeSize, type Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { MAX_ELEMENTS } from "./creation.ts";

function draw<S extends Shape>(op: string, k: Key, shape: S, dist: Distribution, opts: CreateOptions): Tensor<S> {
  checkKey(k, op);
  checkShape(op, shape);
  const size = shapeSize(shape);
  if (size > MAX_ELEMENTS)
    throw new RangeError(`${op}: shape ${fmt(shape)} has ${size} elements, more than one tensor may hold`);
  for (const [name, v] of Object.entries(dist)) {
    if (name !== "kind" && (typeof v !== "number" || Number.isNaN(v)))
      throw new RangeError(`${op}: ${name} must be a number, got ${v}`);
  }
  const { be, dtype } = placementOf(opts);
  return emit({
    op,
    inputs: [],
    shape,
    dtype,
    backend: be,
    launch: (b, _in, [out], env) => b.random(dist, env.keyWords(k), size, out),
    vjp: null,
    // A key that is an argument of a jit-compiled function makes fresh numbers on every call.
    alwaysRecord: k.placeholder !== undefined && activeRecorder() !== undefined,
  });
}

/** Uniform in [minval, maxval). */
export function uniform<const S extends Shape>(
  k: Key,
  shape: S,
  minval = 0,
  maxval = 1,
  opts: CreateOptions = {},
): Tensor<S> {
  return draw("uniform", k, shape, { kind: "uniform", low: minval, high: maxval }, opts);
}

/** Normal with the given mean and standard deviation. */
export function normal<const S extends Shape>(
  k: Key,
  shape: S,
  mean = 0,
  std = 1,
  opts: CreateOptions = {},
): Tensor<S> {
  return draw("normal", k, shape, { kind: "normal", mean, std }, opts);
}

/** Standard normal truncated to [lower, upper], then scaled by std (as timm's trunc_normal_ with bounds in σ). */
export function truncatedNormal<const S extends Shape>(
  k: Key,
  shape: S,
  lower = -2,
  upper = 2,
  std = 1,
  opts: CreateOptions = {},
): Tensor<S> {
  if (!(lower < upper)) throw new RangeError(`truncatedNormal: need lower < upper, got [${lower}, ${upper}]`);
  return draw("truncatedNormal", k, shape, { kind: "truncatedNormal", lower, upper, std }, opts);
}

/** 1 with probability p, else 0. */
export function bernoulli<const S extends Shape>(k: Key, shape: S, p = 0.5, opts: CreateOptions = {}): Tensor<S> {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
  return draw("bernoulli", k, shape, { kind: "bernoulli", p }, opts);
}

/** A random permutation of 0..n-1 as a float tensor of indices (drawn on the host). */
export function permutation(k: Key, n: number, opts: CreateOptions = {}): Tensor<[number]> {
  checkKey(k, "permutation");
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`permutation: n must be a non-negative integer, got ${n}`);
  return fromArray(permutationArray(k, n), [n], opts);
}

export { key, split, foldIn, Key, KeyError, keyFromData, checkKey } from "./prng.ts";
