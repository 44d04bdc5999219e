// HF's ACT2FN: activation functions by their config names.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";

export type Activation = (x: Tensor) => Tensor;

export const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu: T.gelu,
  gelu_python: T.gelu,
  gelu_new: T.geluTanh,
  gelu_pytorch_tanh: T.geluTanh,
  gelu_fast: T.geluFast,
  quick_gelu: T.quickGelu,
  relu: T.relu,
  silu: T.silu,
  swish: T.silu,
  tanh: T.tanh,
  sigmoid: T.sigmoid,
  selu: T.selu,
  linear: (x) => x,
};

export function activation(name: string): Activation {
  const f = ACTIVATIONS[name];
  if (!f) throw new Error(`unknown activation "${name}" (supported: ${Object.keys(ACTIVATIONS).join(", ")})`);
  return f;
}
