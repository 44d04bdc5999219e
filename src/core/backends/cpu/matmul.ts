// The cpu backend's matmul: the wasm GEMM (wasm/gemm.ts) reading both operands in place with their
// strides (transposes and stride-0 batch broadcasts cost nothing) and writing C into the target.
// Batch dims are merged where both operands allow; the innermost remaining one is the GEMM's batch.
// Tiny products skip the GEMM's packing and task planning: a plain loop over the resident data.
import type { Target, View } from "../../backend.ts";
import { gemmResident, type ResidentMatrix } from "../../wasm/gemm.ts";
import { runtime } from "../../wasm/runtime.ts";
import * as K from "../hostKernels.ts";
import { hostTarget, hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";

const MAX_BATCH_DIMS = 32;
const bSize = new Float64Array(MAX_BATCH_DIMS);
const bA = new Float64Array(MAX_BATCH_DIMS);
const bB = new Float64Array(MAX_BATCH_DIMS);
const index = new Float64Array(MAX_BATCH_DIMS);
/**
 * Below this many multiply-adds per matrix, the plain loop beats packing (the GEMM's fixed cost is a
 * few µs; measured by bench/kernels.ts).
 */
const SMALL_MACS = 2048;

const ra: ResidentMatrix = { at: 0, rowStride: 0, colStride: 0, batchStride: 0 };
const rb: ResidentMatrix = { at: 0, rowStride: 0, colStride: 0, batchStride: 0 };

export function matmul(a: View, b: View, out: Target): void {
  const rank = a.shape.length;
  const resident =
    a.storage instanceof WasmStorage && b.storage instanceof WasmStorage && out.storage instanceof WasmStorage;
  if (!resident || rank - 2 > MAX_BATCH_DIMS) {
    K.matmul(hostView(a), hostView(b), ...hostTarget(out));
    return;
  }
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  // Batch dims: size-1 dims dropped, neighbours merged where both operands step through them as one.
  let dims = 0;
  let total = 1;
  for (let d = 0; d < rank - 2; d++) {
    const s = a.shape[d];
    total *= s;
    if (s === 1) continue;
    const sa = a.strides[d];
    const sb = b.strides[d];
    if (dims > 0 && bA[dims - 1] === sa * s && bB[dims - 1] === sb * s) {
      bSize[dims - 1] *= s;
      bA[dims - 1] = sa;
      bB[dims - 1] = sb;
    } else {
      bSize[dims] = s;
      bA[dims] = sa;
      bB[dims] = sb;
      dims++;
    }
  }
  if (total === 0 || m === 0 || n === 0) return;
  const aAt = baseIndex(a.storage as WasmStorage) + a.offset;
  const bAt = baseIndex(b.storage as WasmStorage) + b.offset;
  const cAt = baseIndex(out.storage as WasmStorage) + out.offset;
  ra.rowStride = a.strides[rank - 2];
  ra.colStride = a.strides[rank - 1];
  rb.rowStride = b.strides[rank - 2];
  rb.colStride = b.strides[rank - 1];
  // The innermost batch dim goes to the GEMM; the outer ones are walked here.
  const inner = dims === 0 ? 1 : bSize[dims - 1];
  ra.batchStride = dims === 0 ? 0 : bA[dims - 1];
  rb.batchStride = dims === 0 ? 0 : bB[dims - 1];
  const outer = total / inner;
  for (let d = 0; d < dims - 1; d++) index[d] = 0;
  let ao = aAt;
  let bo = bAt;
  const small = m * n * k <= SMALL_MACS;
  for (let t = 0; t < outer; t++) {
    ra.at = ao;
    rb.at = bo;
    if (small) smallProducts(inner, m, n, k, cAt + t * inner * m * n);
    else gemmResident(inner, m, n, k, ra, rb, cAt + t * inner * m * n);
    for (let d = dims - 2; d >= 0; d--) {
      ao += bA[d];
      bo += bB[d];
      if (++index[d] < bSize[d]) break;
      ao -= bA[d] * bSize[d];
      bo -= bB[d] * bSize[d];
      index[d] = 0;
    }
  }
}

/** `batch` products ra[t]·rb[t] into dense C at cAt, by the textbook loop (float64 accumulation). */
function smallProducts(batch: number, m: number, n: number, k: number, cAt: number): void {
  const f32 = runtime().f32;
  for (let t = 0; t < batch; t++) {
    const a0 = ra.at + t * ra.batchStride;
    const b0 = rb.at + t * rb.batchStride;
    const c0 = cAt + t * m * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++)
          acc += f32[a0 + i * ra.rowStride + p * ra.colStride] * f32[b0 + p * rb.rowStride + j * rb.colStride];
        f32[c0 + i * n + j] = acc;
      }
  }
}
