// Public entry of the CPU matrix multiply: C (+)= A·B, synchronous, run by the emitted wasm SIMD
// kernel (gemmKernel.ts) over all cores (pool.ts) in the shared runtime (runtime.ts). The cpu
// backend calls gemmResident on operands already in the wasm memory (read in place with their
// strides, C written straight into the target); gemm/gemmBatched take Float32Arrays and stage them.
import { DEFAULT_SHAPE } from "./gemmKernel.ts";
import { type PlacedMatrix, planTasks } from "./gemmPlan.ts";
import { cpuThreads, type Runtime, runTasks, runtime, runtimeUnavailable, setCpuThreads } from "./runtime.ts";
import { MAX_THREADS } from "./pool.ts";
import { copyStaged, type MatrixView, planStaging, type StagedMatrix } from "./stageMatrix.ts";
export interface GemmArgs {
  m: number;
  n: number;
  k: number;
  /** Element (i, p) of A is a[aOffset + i*aRowStride + p*aColStride]: covers A and Aᵀ views. */
  a: Float32Array;
  aOffset: number;
  aRowStride: number;
  aColStride: number;
  /** Element (p, j) of B is b[bOffset + p*bRowStride + j*bColStride]. */
  b: Float32Array;
  bOffset: number;
  bRowStride: number;
  bColStride: number;
  /** C is written dense row-major m x n at c[cOffset ...]. */
  c: Float32Array;
  cOffset: number;
  /** C += A·B instead of C = A·B. */
  accumulate?: boolean;
}

export interface GemmBatchStrides {
  /** Elements between consecutive batch matrices; 0 broadcasts one matrix to every batch. */
  aBatchStride: number;
  bBatchStride: number;
  /** At least m*n (output batches may not overlap). */
  cBatchStride: number;
}

/**
 * Below this many multiply-adds one thread is faster than the pool (bench/kernels.ts, 2 shared
 * cores, 2026-11-30, µs one thread / two: one run 80³ = 512K multiply-adds 35/34 and 101³ ≈ 1M 60/52,
 * another 128³ ≈ 2M 106/118 and 161³ ≈ 4M 213/183).
 */
const DEFAULT_PARALLEL_MIN_MACS = 1 << 21;

let relaxedWanted = true;
let parallelMinMacs = DEFAULT_PARALLEL_MIN_MACS;

/** True when WebAssembly SIMD works here (the gemm functions need it). */
export function wasmAvailable(): boolean {
  return runtimeUnavailable() === null;
}

export function gemmInfo(): { threads: number; relaxedSimd: boolean } {
  const rt = runtime();
  return { threads: cpuThreads(), relaxedSimd: rt.relaxedSimd && relaxedWanted };
}

/** Tasks run so far by each thread of the pool (index 0: the calling thread); diagnostics. */
export function gemmTaskCounts(): number[] {
  return runtime().pool.taskCounts();
}

/** Threads to use (the calling thread included), for every CPU kernel: 1 runs on the calling thread only. */
export function setGemmThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`setGemmThreads: expected an integer in 1..${MAX_THREADS}, got ${n}`);
  }
  setCpuThreads(n);
}

/** Smallest problem (batch*m*n*k multiply-adds) run on several threads; tests lower it to 0. */
export function setGemmParallelThreshold(macs: number = DEFAULT_PARALLEL_MIN_MACS): void {
  if (!(macs >= 0)) throw new RangeError(`setGemmParallelThreshold: expected a number >= 0, got ${macs}`);
  parallelMinMacs = macs;
}

/** Use relaxed SIMD (fused multiply-add) when available; false forces the plain-SIMD kernel. */
export function setGemmRelaxedSimd(enabled: boolean): void {
  relaxedWanted = enabled;
}

export function gemm(args: GemmArgs): void {
  multiply(1, args, 0, 0, args.m * args.n);
}

/** `batch` independent products C[t] (+)= A[t]·B[t]; a batch stride of 0 broadcasts A or B. */
export function gemmBatched(batch: number, args: GemmArgs & GemmBatchStrides): void {
  multiply(batch, args, args.aBatchStride, args.bBatchStride, args.cBatchStride);
}

/** A matrix in the wasm memory: element (t, i, p) is f32[at + t*batchStride + i*rowStride + p*colStride]. */
export interface ResidentMatrix {
  at: number;
  rowStride: number;
  colStride: number;
  batchStride: number; // 0 broadcasts one matrix to every batch
}

/**
 * `batch` products C[t] (+)= A[t]·B[t] of matrices resident in the wasm memory; C is dense row-major,
 * batch after batch, from f32 index `cAt`. Operands are read in place with their strides.
 */
export function gemmResident(
  batch: number,
  m: number,
  n: number,
  k: number,
  a: ResidentMatrix,
  b: ResidentMatrix,
  cAt: number,
  accumulate = false,
): void {
  const rt = runtime();
  if (batch === 0 || m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate) rt.f32.fill(0, cAt, cAt + batch * m * n);
    return;
  }
  const place = (x: ResidentMatrix, batches: number): PlacedMatrix => ({
    origin: 4 * x.at,
    rowStride: 4 * x.rowStride,
    colStride: 4 * x.colStride,
    batchStride: 4 * x.batchStride,
    batches,
  });
  run(
    rt,
    batch,
    m,
    n,
    k,
    place(a, a.batchStride === 0 ? 1 : batch),
    place(b, b.batchStride === 0 ? 1 : batch),
    cAt,
    accumulate,
  );
}

function multiply(
  batch: number,
  args: GemmArgs,
  aBatchStride: number,
  bBatchStride: number,
  cBatchStride: number,
): void {
  validate(batch, args, aBatchStride, bBatchStride, cBatchStride);
  const { m, n, k, c, cOffset } = args;
  const accumulate = args.accumulate === true;
  if (batch === 0 || m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate)
      for (let t = 0; t < batch; t++) c.fill(0, cOffset + t * cBatchStride, cOffset + t * cBatchStride + m * n);
    return;
  }
  const a: MatrixView = {
    array: args.a,
    offset: args.aOffset,
    rowStride: args.aRowStride,
    colStride: args.aColStride,
    batchStride: aBatchStride,
  };
  const b: MatrixView = {
    array: args.b,
    offset: args.bOffset,
    rowStride: args.bRowStride,
    colStride: args.bColStride,
    batchStride: bBatchStride,
  };
  const rt = runtime();
  const aBatches = aBatchStride === 0 ? 1 : batch;
  const bBatches = bBatchStride === 0 ? 1 : batch;
  const aStage = planStaging(a, m, k, aBatches);
  const bStage = planStaging(b, k, n, bBatches);
  const need = 4 * (aStage.floats + bStage.floats + batch * m * n) + packBytes(m, n, k, aBatches, bBatches);
  const blocks: number[] = [];
  const take = (floats: number) => {
    const at = rt.heap.alloc(4 * floats);
    if (at < 0) {
      for (const x of blocks) rt.heap.free(x);
      throw outOfMemory(rt, need, batch, m, n, k);
    }
    blocks.push(at);
    return at / 4;
  };
  try {
    const aAt = take(aStage.floats);
    const bAt = take(bStage.floats);
    const cAt = take(batch * m * n);
    const f32 = rt.f32;
    copyStaged(a, m, k, aStage, f32, aAt);
    copyStaged(b, k, n, bStage, rt.f32, bAt);
    const cDense = batch === 1 || cBatchStride === m * n;
    if (accumulate) {
      if (cDense) rt.f32.set(c.subarray(cOffset, cOffset + batch * m * n), cAt);
      else
        for (let t = 0; t < batch; t++)
          rt.f32.set(c.subarray(cOffset + t * cBatchStride, cOffset + t * cBatchStride + m * n), cAt + t * m * n);
    }
    run(rt, batch, m, n, k, placed(aStage, aAt), placed(bStage, bAt), cAt, accumulate);
    const out = rt.f32;
    if (cDense) c.set(out.subarray(cAt, cAt + batch * m * n), cOffset);
    else
      for (let t = 0; t < batch; t++)
        c.set(out.subarray(cAt + t * m * n, cAt + (t + 1) * m * n), cOffset + t * cBatchStride);
  } finally {
    for (const x of blocks) rt.heap.free(x);
  }
}

const packFloats = (lines: number, width: number, k: number) => Math.ceil(lines / width) * width * k;
const packBytes = (m: number, n: number, k: number, aBatches: number, bBatches: number) =>
  4 * (packFloats(m, DEFAULT_SHAPE.mr, k) * aBatches + packFloats(n, DEFAULT_SHAPE.nr, k) * bBatches);

function outOfMemory(rt: Runtime, bytes: number, batch: number, m: number, n: number, k: number): RangeError {
  const need = `gemm: batch=${batch} m=${m} n=${n} k=${k} needs ${Math.ceil(bytes / 2 ** 20)} MiB of wasm memory`;
  const limit = rt.heap.limitBytes;
  if (bytes > limit - rt.heap.liveBytes)
    return new RangeError(
      `${need}, more than the ${Math.round((limit + rt.heap.start) / 2 ** 20)} MiB limit (${Math.round(rt.heap.liveBytes / 2 ** 20)} MiB in use)`,
    );
  return new RangeError(`${need}; growing the memory failed`);
}

/** Packs A and B into temporary heap blocks and runs the task table over the threads. */
function run(
  rt: Runtime,
  batch: number,
  m: number,
  n: number,
  k: number,
  a: PlacedMatrix,
  b: PlacedMatrix,
  cAt: number,
  accumulate: boolean,
): void {
  const { mr, nr } = DEFAULT_SHAPE;
  const aPackFloats = packFloats(m, mr, k);
  const bPackFloats = packFloats(n, nr, k);
  const aPack = rt.heap.alloc(4 * aPackFloats * a.batches);
  const bPack = aPack < 0 ? -1 : rt.heap.alloc(4 * bPackFloats * b.batches);
  if (bPack < 0) {
    if (aPack >= 0) rt.heap.free(aPack);
    throw outOfMemory(rt, packBytes(m, n, k, a.batches, b.batches), batch, m, n, k);
  }
  try {
    const threads = batch * m * n * k < parallelMinMacs ? 1 : cpuThreads();
    const relaxed = rt.relaxedSimd && relaxedWanted;
    const taskCount = planTasks(rt.pool.table, {
      m,
      n,
      k,
      batch,
      threads,
      accumulate,
      shape: DEFAULT_SHAPE,
      a,
      b,
      aPack,
      bPack,
      c: 4 * cAt,
      aPackBatchBytes: a.batches === 1 ? 0 : aPackFloats * 4,
      bPackBatchBytes: b.batches === 1 ? 0 : bPackFloats * 4,
      kernels: {
        packA: rt.kernelIndex.packA,
        packB: rt.kernelIndex.packB,
        gemmBlocks: rt.kernelIndex[relaxed ? "gemmBlocks" : "gemmBlocksPlain"],
      },
    });
    runTasks(rt, taskCount, threads);
  } finally {
    rt.heap.free(aPack);
    rt.heap.free(bPack);
  }
}

/** Byte address and byte strides of a staged matrix placed at float index `at`. */
function placed(s: StagedMatrix, at: number): PlacedMatrix {
  return {
    origin: (at + s.origin) * 4,
    rowStride: s.rowStride * 4,
    colStride: s.colStride * 4,
    batchStride: s.batchStride * 4,
    batches: s.batches,
  };
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`gemm: ${name}=${v} must be a non-negative integer`);
}

function checkInteger(name: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`gemm: ${name}=${v} must be an integer`);
}

function validate(
  batch: number,
  args: GemmArgs,
  aBatchStride: number,
  bBatchStride: number,
  cBatchStride: number,
): void {
  const { m, n, k, c, cOffset } = args;
  checkCount("batch", batch);
  checkCount("m", m);
  checkCount("n", n);
  checkCount("k", k);
  if (!(args.a instanceof Float32Array)) throw new TypeError("gemm: a must be a Float32Array");
  if (!(args.b instanceof Float32Array)) throw new TypeError("gemm: b must be a Float32Array");
  if (!(c instanceof Float32Array)) throw new TypeError("gemm: c must be a Float32Array");
  checkInteger("aOffset", args.aOffset);
  checkInteger("aRowStride", args.aRowStride);
  checkInteger("aColStride", args.aColStride);
  checkInteger("aBatchStride", aBatchStride);
  checkInteger("bOffset", args.bOffset);
  checkInteger("bRowStride", args.bRowStride);
  checkInteger("bColStride", args.bColStride);
  checkInteger("bBatchStride", bBatchStride);
  checkInteger("cOffset", cOffset);
  checkInteger("cBatchStride", cBatchStride);
  if (batch === 0 || m === 0 || n === 0) return;
  if (batch > 1 && cBatchStride < m * n) {
    throw new RangeError(`gemm: cBatchStride=${cBatchStride} is less than m*n=${m * n}: output batches would overlap`);
  }
  const cEnd = cOffset + (batch - 1) * cBatchStride + m * n;
  if (cOffset < 0 || cEnd > c.length) {
    throw new RangeError(
      `gemm: C (batch=${batch}, ${m}x${n} from offset ${cOffset}, batch stride ${cBatchStride}) needs c.length >= ${cEnd}, got ${c.length}`,
    );
  }
  if (k === 0) return;
  checkView("A", args.a, args.aOffset, args.aRowStride, args.aColStride, aBatchStride, m, k, batch);
  checkView("B", args.b, args.bOffset, args.bRowStride, args.bColStride, bBatchStride, k, n, batch);
}

/** Every element of a strided (rows x cols, `batches` times) view must lie inside its array. */
function checkView(
  name: string,
  arr: Float32Array,
  offset: number,
  rs: number,
  cs: number,
  bs: number,
  rows: number,
  cols: number,
  batches: number,
): void {
  const lo = offset + Math.min(0, (rows - 1) * rs) + Math.min(0, (cols - 1) * cs) + Math.min(0, (batches - 1) * bs);
  const hi = offset + Math.max(0, (rows - 1) * rs) + Math.max(0, (cols - 1) * cs) + Math.max(0, (batches - 1) * bs);
  if (lo < 0 || hi >= arr.length) {
    throw new RangeError(
      `gemm: ${name} view (${batches > 1 ? `${batches} x ` : ""}${rows}x${cols}, offset ${offset}, strides row ${rs} col ${cs}` +
        `${batches > 1 ? ` batch ${bs}` : ""}) reaches elements ${lo}..${hi}, outside ${name.toLowerCase()}.length=${arr.length}`,
    );
  }
}
