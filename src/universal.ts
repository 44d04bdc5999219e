// vitmae-ts anywhere (Node, a browser, a worker): the public API without a file system. Checkpoints
// load with fromBytes / fromUrl; the Node entry (src/index.ts) adds folders (fromPretrained(dir)).

/** The tensor DSL: T.zeros, T.matmul, T.softmax, T.random.normal, … */
export * as T from "./core/index.ts";
export { Tensor, ShapeError, key, setBackend, backend, availableBackends, withFloat64 } from "./core/index.ts";
export { cpuReady, cpuThreads, setCpuThreads } from "./core/backends/cpu/cpuBackend.ts";
export * from "./autodiff/index.ts";
export * from "./jit/index.ts";
export * as nn from "./nn/index.ts";
export * from "./mae/index.ts";
export * from "./vit/index.ts";
export { NoFileSystemError, registerFileSystem, type FileSystem, type ReadFail } from "./io/fileSystem.ts";
