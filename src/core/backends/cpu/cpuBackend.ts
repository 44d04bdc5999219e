// The cpu backend: tensors in the shared WebAssembly memory, every kernel WebAssembly SIMD over the
// worker pool (src/core/wasm). Held to the reference backend by test/core/cpu*.test.ts. Float32
// only (float64 tensors live on the reference backend).
import { registerBackend, setDefaultBackend, type Backend, type Storage, type View } from "../../backend.ts";
import { runtimeUnavailable } from "../../wasm/runtime.ts";
import * as K from "../hostKernels.ts";
import { elementwise } from "./elementwise.ts";
import { hostArray, hostView } from "./hostViews.ts";
import { gather, scatterAdd, argsort, argmax } from "./indexing.ts";
import { matmul } from "./matmul.ts";
import { random } from "./random.ts";
import { reduce } from "./reduce.ts";
import { layerNorm, layerNormBackward, softmax, softmaxBackward } from "./rows.ts";
import { allocStorage, freeStorage } from "./storage.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function checkDtype(dtype: string, what: string): void {
  if (dtype !== "float32")
    throw new TypeError(
      `cpu backend: ${what} a ${dtype} tensor; it stores float32 only (float64 lives on "reference")`,
    );
}

/** The view's elements in row-major order, in a new Float32Array. */
function readSync(x: View): Float32Array {
  const out = new Float32Array(size(x.shape));
  if (out.length === 0) return out;
  const v = hostView(x);
  return K.gatherView(v, out);
}

export const cpuBackend: Backend = {
  name: "cpu",
  dtypes: ["float32"],
  canReadSync: true,

  alloc(n, dtype) {
    checkDtype(dtype, "cannot allocate");
    return allocStorage(cpuBackend, n);
  },
  upload(values, dtype) {
    checkDtype(dtype, "cannot upload");
    const s = allocStorage(cpuBackend, values.length);
    const [data, at] = hostArray(s);
    data.set(values, at);
    return s;
  },
  readSync,
  read: async (x) => readSync(x),
  free: (s: Storage) => freeStorage(s),

  elementwise,
  reduce,
  matmul,
  gather,
  scatterAdd,
  argsort,
  argmax,
  softmax,
  softmaxBackward,
  layerNorm,
  layerNormBackward,
  random,
};

/** Why the cpu backend cannot run here (no WebAssembly SIMD), or null. */
export const cpuUnavailable = (): string | null => runtimeUnavailable();

// The backend's knobs and figures: threads (cpuReady starts the workers; a page awaits it once),
// and the heap tensors live in (live bytes and peak, the soft limit past which tensors go to host
// memory).
export { cpuReady, cpuThreads, setCpuThreads } from "../../wasm/runtime.ts";
export { type CpuHeapStats, cpuHeapStats, resetCpuHeapPeak, setCpuHeapSoftLimit } from "./storage.ts";

registerBackend("cpu", () => {
  const why = runtimeUnavailable();
  if (why) throw new Error(`the cpu backend is unavailable here: ${why}`);
  return cpuBackend;
});
if (runtimeUnavailable() === null) setDefaultBackend("cpu");
