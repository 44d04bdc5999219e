// Linear (fully connected) layer, stored as HF/PyTorch store it: weight [out, in], bias [out].

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";

export interface LinearParams {
  weight: Tensor; // [out, in]
  bias?: Tensor; //  [out]; absent where HF has none (q/k/v when qkv_bias is false)
}

/** y = x·Wᵀ + b over the last axis: [..., in] → [..., out]. */
export function linear(p: LinearParams, x: Tensor): Tensor {
  const y = T.matmul(x, T.transpose(p.weight));
  return p.bias ? T.add(y, p.bias) : y;
}
