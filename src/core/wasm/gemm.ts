// Public entry of the CPU matrix multiply: C (+)= A·B on strided Float32Array views, synchronous,
// run by the emitted wasm SIMD kernel (gemmKernel.ts) over all cores (pool.ts).
import os from "node:os";
import v8 from "node:v8";
import { DEFAULT_SHAPE, emitGemmModule, KERNEL_EXPORTS, relaxedSimdProbe } from "./gemmKernel.ts";
import { CONTROL_BYTES, MAX_THREADS, SCRATCH_FLOATS, WorkerPool } from "./pool.ts";
import { type PlacedMatrix, planTasks } from "./gemmPlan.ts";
import { copyStaged, type MatrixView, planStaging, type StagedMatrix } from "./stageMatrix.ts";
import { type WasmMemory, type WebAssemblyApi, webAssembly } from "./webAssemblyApi.ts";

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

const PAGE = 65536;
const MAXIMUM_PAGES = 65536; // 4 GiB, the wasm32 limit
const INITIAL_PAGES = 256;
/**
 * Below this many multiply-adds, waking the workers costs more than it saves: a sleeping worker
 * takes ~50 µs to join here (a VM), while 2M multiply-adds take ~90 µs on one core.
 */
const DEFAULT_PARALLEL_MIN_MACS = 1 << 21;

interface Runtime {
  memory: WasmMemory;
  pool: WorkerPool;
  relaxedSimd: boolean;
  f32: Float32Array; // view of memory.buffer, refreshed after it grows
}

/** One runtime per kernel flavour, created on first use (benchmarks switch between them). */
const runtimes: { relaxed?: Runtime; plain?: Runtime } = {};
let threadCount = Math.max(1, Math.min(MAX_THREADS, os.availableParallelism()));
let relaxedWanted = true;
let parallelMinMacs = DEFAULT_PARALLEL_MIN_MACS;

/** Whether the engine has relaxed SIMD, setting the V8 flag that enables it on Node 20 if needed. */
function detectRelaxedSimd(wasm: WebAssemblyApi): boolean {
  if (wasm.validate(relaxedSimdProbe())) return true;
  try {
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
  } catch {
    // Flags locked: the validation below decides.
  }
  return wasm.validate(relaxedSimdProbe());
}

function createRuntime(wantRelaxed: boolean): Runtime {
  const wasm = webAssembly;
  if (!wasm) throw new Error("gemm: this JavaScript engine has no WebAssembly");
  if (DEFAULT_SHAPE.mr * DEFAULT_SHAPE.nr > SCRATCH_FLOATS)
    throw new Error("gemm: kernel tile larger than task scratch");
  const relaxedSimd = wantRelaxed && detectRelaxedSimd(wasm);
  const memory = new wasm.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true });
  const module = new wasm.Module(emitGemmModule({ ...DEFAULT_SHAPE, relaxedSimd, maximumPages: MAXIMUM_PAGES }));
  const { exports } = new wasm.Instance(module, { env: { memory } });
  // Exports of our own module, all (i32...) => void.
  const fns = KERNEL_EXPORTS.map((name) => exports[name] as (...args: number[]) => void);
  const pool = new WorkerPool(memory, module, fns, KERNEL_EXPORTS);
  return { memory, pool, relaxedSimd, f32: new Float32Array(memory.buffer) };
}

function runtimeKey(): "relaxed" | "plain" {
  return relaxedWanted ? "relaxed" : "plain";
}

function getRuntime(): Runtime {
  return (runtimes[runtimeKey()] ??= createRuntime(relaxedWanted));
}

/** True when WebAssembly SIMD with shared memory works here (the gemm functions need it). */
export function wasmAvailable(): boolean {
  try {
    getRuntime();
    return true;
  } catch {
    return false;
  }
}

export function gemmInfo(): { threads: number; relaxedSimd: boolean } {
  const rt = getRuntime();
  return { threads: rt.pool.workerFailed ? 1 : threadCount, relaxedSimd: rt.relaxedSimd };
}

/** Tasks run so far by each thread of the current pool (index 0: the main thread); diagnostics. */
export function gemmTaskCounts(): number[] {
  return getRuntime().pool.taskCounts();
}

/** Threads to use (the main thread included): 1 runs on the main thread only. */
export function setGemmThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`setGemmThreads: expected an integer in 1..${MAX_THREADS}, got ${n}`);
  }
  threadCount = n; // surplus workers just stay asleep
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
  try {
    run(batch, m, n, k, a, b, c, cOffset, cBatchStride, accumulate);
  } catch (error) {
    // A failed job may leave a worker mid-task: start over with a fresh memory and pool.
    runtimes[runtimeKey()]?.pool.close();
    delete runtimes[runtimeKey()];
    throw error;
  }
}

function run(
  batch: number,
  m: number,
  n: number,
  k: number,
  a: MatrixView,
  b: MatrixView,
  c: Float32Array,
  cOffset: number,
  cBatchStride: number,
  accumulate: boolean,
): void {
  const rt = getRuntime();
  const { mr, nr } = DEFAULT_SHAPE;
  const aBatches = a.batchStride === 0 ? 1 : batch;
  const bBatches = b.batchStride === 0 ? 1 : batch;
  const aPackFloats = Math.ceil(m / mr) * mr * k;
  const bPackFloats = Math.ceil(n / nr) * nr * k;
  const aStage = planStaging(a, m, k, aBatches);
  const bStage = planStaging(b, k, n, bBatches);

  // Layout after the control region, in floats, each part 64-byte aligned.
  const aAt = CONTROL_BYTES / 4;
  const bAt = aAt + align16(aStage.floats);
  const aPackAt = bAt + align16(bStage.floats);
  const bPackAt = aPackAt + align16(aPackFloats * aBatches);
  const cAt = bPackAt + align16(bPackFloats * bBatches);
  const f32 = ensureMemory(rt, (cAt + m * n * batch) * 4, batch, m, n, k);

  copyStaged(a, m, k, aStage, f32, aAt);
  copyStaged(b, k, n, bStage, f32, bAt);
  const cDense = batch === 1 || cBatchStride === m * n;
  if (accumulate) {
    if (cDense) f32.set(c.subarray(cOffset, cOffset + batch * m * n), cAt);
    else
      for (let t = 0; t < batch; t++)
        f32.set(c.subarray(cOffset + t * cBatchStride, cOffset + t * cBatchStride + m * n), cAt + t * m * n);
  }

  const threads = batch * m * n * k < parallelMinMacs || rt.pool.workerFailed ? 1 : threadCount;
  if (threads > 1) rt.pool.ensureWorkers(threads - 1);
  const taskCount = planTasks(rt.pool.table, {
    m,
    n,
    k,
    batch,
    threads,
    accumulate,
    shape: DEFAULT_SHAPE,
    a: placed(aStage, aAt),
    b: placed(bStage, bAt),
    aPack: aPackAt * 4,
    bPack: bPackAt * 4,
    c: cAt * 4,
    aPackBatchBytes: aBatches === 1 ? 0 : aPackFloats * 4,
    bPackBatchBytes: bBatches === 1 ? 0 : bPackFloats * 4,
  });
  rt.pool.run(taskCount, Math.min(threads - 1, rt.pool.workerCount));

  if (cDense) c.set(f32.subarray(cAt, cAt + batch * m * n), cOffset);
  else
    for (let t = 0; t < batch; t++)
      c.set(f32.subarray(cAt + t * m * n, cAt + (t + 1) * m * n), cOffset + t * cBatchStride);
}

function align16(floats: number): number {
  return Math.ceil(floats / 16) * 16;
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

/** Grows the shared memory to at least `bytes`; returns a current Float32Array view of it. */
function ensureMemory(rt: Runtime, bytes: number, batch: number, m: number, n: number, k: number): Float32Array {
  const have = rt.memory.buffer.byteLength;
  if (bytes > have) {
    const need = `gemm: batch=${batch} m=${m} n=${n} k=${k} needs ${Math.ceil(bytes / 2 ** 20)} MiB of wasm memory`;
    if (bytes > MAXIMUM_PAGES * PAGE)
      throw new RangeError(`${need}, more than the ${(MAXIMUM_PAGES * PAGE) / 2 ** 20} MiB limit`);
    try {
      rt.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch (error) {
      throw new RangeError(`${need}; growing it failed: ${(error as Error).message}`);
    }
  }
  if (rt.f32.buffer.byteLength !== rt.memory.buffer.byteLength) rt.f32 = new Float32Array(rt.memory.buffer);
  return rt.f32;
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
