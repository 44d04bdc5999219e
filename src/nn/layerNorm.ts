// LayerNorm over the last axis with learned scale and shift (HF: biased variance, eps inside √).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";

export interface LayerNormParams {
  weight: Tensor; // [D]
  bias: Tensor; //   [D]
}

export function layerNorm(p: LayerNormParams, x: Tensor, eps: number): Tensor {
  return T.layerNorm(x, p.weight, p.bias, eps);
}
