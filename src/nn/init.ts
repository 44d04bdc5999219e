// Initialisers as HF's ViTMAE uses them: (key, shape) → tensor.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import type { LinearParams } from "./linear.ts";
import type { LayerNormParams } from "./layerNorm.ts";

/** N(0, std) — HF's Linear/Conv weight init with std = initializer_range. */
export const normalInit = (k: Key, shape: readonly number[], std: number): Tensor => T.random.normal(k, shape, 0, std);

/** Glorot/Xavier uniform on a [fanOut, fanIn] view: U(±√(6/(fanIn+fanOut))). */
export function xavierUniform(k: Key, shape: readonly number[], fanIn: number, fanOut: number): Tensor {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  return T.random.uniform(k, shape, -a, a);
}

/** A Linear [out, in] with N(0, std) weight and zero bias (no bias when `bias` is false). */
export function initLinear(k: Key, inFeatures: number, outFeatures: number, std: number, bias = true): LinearParams {
  const weight = normalInit(k, [outFeatures, inFeatures], std);
  return bias ? { weight, bias: T.zeros([outFeatures]) } : { weight };
}

/** LayerNorm with weight 1, bias 0. */
export const initLayerNorm = (dim: number): LayerNormParams => ({ weight: T.ones([dim]), bias: T.zeros([dim]) });
