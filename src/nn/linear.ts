// Linear (fully connected) layer, stored as HF/PyTorch store it: weight [out, in], bias [out].

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";

export interface LinearParams {
  weight: Tensor; // [out, in]
  bias?: Tensor; //  [out]; absent where HF has none (q/k/v when qkv_bias is false)
}

/** y = x·Wᵀ + b over the last axis: [..., in] → [..., out]. */
export function linear(p: LinearParams, x: Tensor): Tensor {
  const [out, inFeatures] = p.weight.shape;
  if (x.shape.length === 0 || x.shape[x.shape.length - 1] !== inFeatures) {
    throw new ShapeError(
      `linear: input ${fmt(x.shape)} must end in ${inFeatures} features for the weight ${fmt(p.weight.shape)}`,
    );
  }
  if (x.shape.length === 1) return T.reshape(linear(p, T.reshape(x, [1, inFeatures])), [out]); // as torch: a single vector
  const y = T.matmul(x, T.transpose(p.weight));
  return p.bias ? T.add(y, p.bias) : y;
}
