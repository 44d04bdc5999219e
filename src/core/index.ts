// The tensor DSL's public surface: import * as T from "./core/index.ts".

export * from "./shape.ts";
export {
  Tensor,
  typed,
  zeros,
  ones,
  full,
  scalar,
  fromArray,
  fromNested,
  arange,
  eye,
  isTensor,
  type Nested,
} from "./tensor.ts";
export {
  setBackend,
  backend,
  availableBackends,
  withFloat64,
  type Backend,
  type View,
  type Storage,
} from "./backend.ts";
export * from "./ops/elementwise.ts";
export * from "./ops/reduce.ts";
export * from "./ops/movement.ts";
export * from "./ops/matmul.ts";
export * from "./ops/indexing.ts";
export * from "./ops/activations.ts";
export { softmax, layerNorm, gelu } from "./ops/fused.ts";
export { stopGradient } from "./ops/stopGradient.ts";
export * as random from "./random.ts";
export { key, Key, KeyError } from "./prng.ts";
import "./backends/reference.ts";
import "./backends/cpu/cpuBackend.ts";
import "./backends/gpujs.ts";
