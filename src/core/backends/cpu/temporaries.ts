// Kernel temporaries in the wasm heap (partial sums, contiguous copies of strided views), freed by
// the kernel that made them before it returns.
import { isContiguous } from "../../shape.ts";
import type { Program, View } from "../../backend.ts";
import { runtime } from "../../wasm/runtime.ts";
import { elementwise } from "./elementwise.ts";
import { baseIndex, WasmStorage } from "./storage.ts";

/** A block of `bytes` in the heap (its byte address); throws a clear error when the heap is exhausted. */
export function tempAlloc(bytes: number, what: string): number {
  const heap = runtime().heap;
  const at = heap.alloc(bytes);
  if (at < 0)
    throw new RangeError(
      `cpu backend: ${what} needs a ${(bytes / 2 ** 20).toFixed(1)} MiB temporary, and the wasm heap ` +
        `(${(heap.liveBytes / 2 ** 20).toFixed(1)} MiB live of ${(heap.limitBytes / 2 ** 20).toFixed(0)} MiB) has no room`,
    );
  return at;
}

export function tempFree(byteAddress: number): void {
  runtime().heap.free(byteAddress);
}

/** Whether the view's elements are row-major contiguous in its storage (size-1 dims ignored). */
const IDENTITY: Program = { code: [{ op: "input", index: 0 }], outputs: [0] };

/**
 * The f32 index of the view's elements in row-major order: the view itself when contiguous, else a
 * copy in a temporary block (`temp` ≥ 0: the caller frees it with tempFree).
 */
export function contiguousAt(v: View, what: string): { at: number; temp: number } {
  if (isContiguous(v)) return { at: baseIndex(v.storage as WasmStorage) + v.offset, temp: -1 };
  const n = v.shape.reduce((a, b) => a * b, 1);
  const temp = tempAlloc(4 * n, what);
  const storage = new WasmStorage(v.storage.backend, n, temp / 4);
  const strides = v.shape.map((_, d) => v.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  elementwise(IDENTITY, [v], v.shape, [{ storage, shape: v.shape, strides, offset: 0 }]);
  return { at: temp / 4, temp };
}
