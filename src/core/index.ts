// The tensor DSL's public surface: import * as T from "./core/index.ts".

export * from "./shape.ts";
export { Tensor, typed, isTensor, type Nested } from "./tensor.ts";
export {
  zeros,
  ones,
  full,
  scalar,
  fromArray,
  fromNested,
  arange,
  eye,
  MAX_ELEMENTS,
  type CreateOptions,
} from "./creation.ts";
export {
  setBackend,
  backend,
  getBackend,
  loadBackend,
  availableBackends,
  withFloat64,
  type Backend,
  type DType,
  type View,
  type Storage,
} from "./backend.ts";
export * from "./ops/elementwise.ts";
export * from "./ops/reduce.ts";
export * from "./ops/movement.ts";
export * from "./ops/matmul.ts";
export * from "./ops/indexing.ts";
export * from "./ops/activations.ts";
export { softmax, layerNorm } from "./ops/fused.ts";
export { astype, toBackend, toBackendSync, fromNdarray, toNdarray } from "./ops/convert.ts";
export { stopGradient } from "./ops/stopGradient.ts";
export { mapElements, Element } from "./ops/mapElements.ts";
export {
  cpuHeapStats,
  cpuReady,
  cpuThreads,
  setCpuThreads,
  setCpuHeapSoftLimit,
  type CpuHeapStats,
} from "./backends/cpu/cpuBackend.ts";
export * as random from "./random.ts";
export { key, Key, KeyError } from "./prng.ts";
import "./backends/reference.ts";
import "./backends/cpu/cpuBackend.ts";
import "./backends/gpujs.ts";
import "./backends/webgpu/webgpuBackend.ts";
import "./backends/webgl2/webgl2Backend.ts";
