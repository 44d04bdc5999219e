// Random tensors from explicit keys: the same key gives the same numbers on every backend.

import { checkKey, normalArray, permutationArray, truncatedNormalArray, uniformArray, type Key } from "./prng.ts";
import { checkShape, shapeSize, type Shape } from "./shape.ts";
import { fromArray, type Tensor } from "./tensor.ts";

/** Uniform in [minval, maxval). */
export function uniform<const S extends Shape>(k: Key, shape: S, minval = 0, maxval = 1): Tensor<S> {
  checkKey(k, "uniform");
  checkShape("uniform", shape);
  const u = uniformArray(k, shapeSize(shape));
  for (let i = 0; i < u.length; i++) u[i] = minval + (maxval - minval) * u[i];
  return fromArray(u, shape);
}

/** Normal with the given mean and standard deviation. */
export function normal<const S extends Shape>(k: Key, shape: S, mean = 0, std = 1): Tensor<S> {
  checkKey(k, "normal");
  checkShape("normal", shape);
  const z = normalArray(k, shapeSize(shape));
  for (let i = 0; i < z.length; i++) z[i] = mean + std * z[i];
  return fromArray(z, shape);
}

/** Standard normal truncated to [lower, upper], then scaled by std (as timm's trunc_normal_ with bounds in σ). */
export function truncatedNormal<const S extends Shape>(k: Key, shape: S, lower = -2, upper = 2, std = 1): Tensor<S> {
  checkKey(k, "truncatedNormal");
  checkShape("truncatedNormal", shape);
  const z = truncatedNormalArray(k, shapeSize(shape), lower, upper);
  for (let i = 0; i < z.length; i++) z[i] *= std;
  return fromArray(z, shape);
}

/** 1 with probability p, else 0. */
export function bernoulli<const S extends Shape>(k: Key, shape: S, p = 0.5): Tensor<S> {
  checkKey(k, "bernoulli");
  checkShape("bernoulli", shape);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
  const u = uniformArray(k, shapeSize(shape));
  for (let i = 0; i < u.length; i++) u[i] = u[i] < p ? 1 : 0;
  return fromArray(u, shape);
}

/** A random permutation of 0..n-1 as a float tensor of indices. */
export function permutation(k: Key, n: number): Tensor<[number]> {
  checkKey(k, "permutation");
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`permutation: n must be a non-negative integer, got ${n}`);
  return fromArray(permutationArray(k, n), [n]);
}

export { key, split, foldIn, Key, KeyError, keyFromData, checkKey } from "./prng.ts";
