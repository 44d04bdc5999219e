// Splits one (batched) GEMM into the task table run by pool.ts: packing tasks for A and B, then
// compute tasks over blocks of C (batches, or row and column panel ranges) for dynamic scheduling.
import type { KernelShape } from "./gemmKernel.ts";
import { MAX_TASKS, ROW_INTS } from "./pool.ts";

/** A staged matrix: byte address of element (0, 0) of batch 0, byte strides, staged batches. */
export interface PlacedMatrix {
  origin: number;
  rowStride: number;
  colStride: number;
  batchStride: number;
  batches: number; // 1 when broadcast over the batch
}

export interface GemmPlan {
  m: number;
  n: number;
  k: number;
  batch: number;
  threads: number;
  accumulate: boolean;
  shape: KernelShape;
  a: PlacedMatrix;
  b: PlacedMatrix;
  aPack: number;
  bPack: number;
  c: number; // byte addresses of the packed panels and of C
  aPackBatchBytes: number;
  bPackBatchBytes: number; // 0 when broadcast
  /** Export indices of packA, packB and the gemmBlocks flavour to run. */
  kernels: { packA: number; packB: number; gemmBlocks: number };
}

/** Compute tasks per thread: enough for dynamic load balancing, few enough to keep blocks large. */
const TASKS_PER_THREAD = 4;
/** Budget for a row block of packed A (rows x kc floats), about a third of a 2 MiB L2. */
const L2_BLOCK_BYTES = 768 * 1024;

/** Start of part `i` when 0..total is split into `parts` near-equal ranges. */
function partStart(i: number, parts: number, total: number): number {
  return Math.floor((i * total) / parts);
}

/** Appends rows [export index, tasks to wait for, ...i32 arguments] to the table. */
class TaskWriter {
  count = 0;
  constructor(private readonly table: Int32Array) {}
  add(fn: number, waitFor: number, args: number[]): void {
    if (this.count === MAX_TASKS) throw new Error(`gemm: more than ${MAX_TASKS} tasks planned`);
    const row = this.count++ * ROW_INTS;
    this.table[row] = fn;
    this.table[row + 1] = waitFor;
    for (let i = 0; i < args.length; i++) this.table[row + 2 + i] = args[i];
  }
}

/** Fills the table from row 0 and returns the number of tasks. */
export function planTasks(table: Int32Array, plan: GemmPlan): number {
  const tasks = new TaskWriter(table);
  const { m, n, k, threads, shape } = plan;
  addPackTasks(
    tasks,
    plan.kernels.packA,
    plan.a,
    plan.a.rowStride,
    plan.a.colStride,
    plan.aPack,
    plan.aPackBatchBytes,
    m,
    shape.mr,
    k,
    threads,
  );
  addPackTasks(
    tasks,
    plan.kernels.packB,
    plan.b,
    plan.b.colStride,
    plan.b.rowStride,
    plan.bPack,
    plan.bPackBatchBytes,
    n,
    shape.nr,
    k,
    threads,
  );
  addComputeTasks(tasks, plan, tasks.count);
  return tasks.count;
}

/**
 * pack(src, lineStride, kStride, dst, lines, k, nb, srcBatch, dstBatch): A's lines are its rows
 * (panels of mr), B's its columns (panels of nr). Split over batches if there are enough, else
 * over panels.
 */
function addPackTasks(
  tasks: TaskWriter,
  fn: number,
  mat: PlacedMatrix,
  lineStride: number,
  kStride: number,
  dst: number,
  dstBatch: number,
  lines: number,
  width: number,
  k: number,
  threads: number,
): void {
  if (mat.batches >= threads && mat.batches > 1) {
    for (let i = 0; i < threads; i++) {
      const t0 = partStart(i, threads, mat.batches);
      const t1 = partStart(i + 1, threads, mat.batches);
      tasks.add(fn, 0, [
        mat.origin + t0 * mat.batchStride,
        lineStride,
        kStride,
        dst + t0 * dstBatch,
        lines,
        k,
        t1 - t0,
        mat.batchStride,
        dstBatch,
      ]);
    }
    return;
  }
  const panels = Math.ceil(lines / width);
  const parts = Math.min(threads, panels);
  for (let t = 0; t < mat.batches; t++) {
    for (let i = 0; i < parts; i++) {
      const q0 = partStart(i, parts, panels);
      const q1 = partStart(i + 1, parts, panels);
      tasks.add(fn, 0, [
        mat.origin + t * mat.batchStride + q0 * width * lineStride,
        lineStride,
        kStride,
        dst + t * dstBatch + q0 * width * k * 4,
        Math.min(lines, q1 * width) - q0 * width,
        k,
        1,
        0,
        0,
      ]);
    }
  }
}

/**
 * gemmBlocks(aPack, bPack, c, m, n, k, i0, i1, j0, j1, beta, nb, aBatch, bBatch, cBatch), each
 * task waiting for all packing tasks. Many batches: split batches. Otherwise row blocks small
 * enough that a block's packed A (rows x kc) stays in L2 while the task streams B past it, then
 * column blocks (and more row blocks if needed) to reach the target task count.
 */
function addComputeTasks(tasks: TaskWriter, plan: GemmPlan, waitFor: number): void {
  const {
    m,
    n,
    k,
    batch,
    threads,
    shape: { mr, nr, kc },
  } = plan;
  const beta = plan.accumulate ? 1 : 0;
  const cBatchBytes = m * n * 4;
  const block = (t0: number, nb: number, i0: number, i1: number, j0: number, j1: number) =>
    tasks.add(plan.kernels.gemmBlocks, waitFor, [
      plan.aPack + t0 * plan.aPackBatchBytes,
      plan.bPack + t0 * plan.bPackBatchBytes,
      plan.c + t0 * cBatchBytes,
      m,
      n,
      k,
      i0,
      i1,
      j0,
      j1,
      beta,
      nb,
      plan.aPackBatchBytes,
      plan.bPackBatchBytes,
      cBatchBytes,
    ]);

  const target = threads === 1 ? 1 : threads * TASKS_PER_THREAD;
  if (batch >= target) {
    for (let i = 0; i < target; i++) {
      const t0 = partStart(i, target, batch);
      block(t0, partStart(i + 1, target, batch) - t0, 0, m, 0, n);
    }
    return;
  }
  const perBatch = Math.ceil(target / batch);
  const mPanels = Math.ceil(m / mr);
  const nPanels = Math.ceil(n / nr);
  const l2Panels = Math.max(1, Math.floor(L2_BLOCK_BYTES / (4 * mr * Math.min(k, kc))));
  const minRowParts = Math.ceil(mPanels / l2Panels);
  let colParts = Math.min(nPanels, Math.ceil(perBatch / minRowParts));
  const rowParts = Math.min(mPanels, Math.max(minRowParts, Math.ceil(perBatch / colParts)));
  // Equal tasks, a multiple of the thread count: no thread is left alone with the last one.
  while ((batch * rowParts * colParts) % threads !== 0 && colParts < nPanels) colParts++;
  for (let t = 0; t < batch; t++) {
    for (let r = 0; r < rowParts; r++) {
      const i0 = partStart(r, rowParts, mPanels) * mr;
      const i1 = Math.min(m, partStart(r + 1, rowParts, mPanels) * mr);
      for (let s = 0; s < colParts; s++) {
        block(
          t,
          1,
          i0,
          i1,
          partStart(s, colParts, nPanels) * nr,
          Math.min(n, partStart(s + 1, colParts, nPanels) * nr),
        );
      }
    }
  }
}
