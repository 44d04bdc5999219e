// vitmae-ts: the public API. `import { T, grad, ViTMAEForPreTraining } from "vitmae-ts"`.

/** The tensor DSL: T.zeros, T.matmul, T.softmax, T.random.normal, … */
export * as T from "./core/index.ts";
export { Tensor, ShapeError, key, setBackend, backend, availableBackends, withFloat64 } from "./core/index.ts";
export * from "./autodiff/index.ts";
export * as nn from "./nn/index.ts";
export * from "./mae/index.ts";
