// The CPU backend's machine: one WebAssembly memory (shared with the worker threads where the
// platform allows), one module holding every kernel (workers instantiate it once at start: a
// parked worker cannot be sent new code), the worker pool, and the heap tensors live in.
//
// Memory layout (bytes):
//   [0, 64 KiB)              pool control words and the task table (pool.ts)
//   [64 KiB, 128 KiB)        call descriptors written by the calling thread before a job
//   [128 KiB, +16 × 64 KiB)  scratch, one slice per thread
//   [HEAP_START, end - 64)   the heap (heap.ts); the last 64 bytes stay unused, so a kernel's
//                            whole-vector read past the end of a tensor stays inside the memory
import { platform } from "#platform";
import { ModuleBuilder } from "./assembler.ts";
import { addElementwiseKernel } from "./elementwiseKernel.ts";
import { addGemmKernels, DEFAULT_SHAPE, relaxedSimdProbe, simdProbe } from "./gemmKernel.ts";
import { Heap } from "./heap.ts";
import { addIndexKernels } from "./indexKernels.ts";
import { MATH_IMPORTS } from "./mathImports.ts";
import { addReduceKernels } from "./reduceKernels.ts";
import { addLayerNormKernels } from "./layerNormKernels.ts";
import { addSoftmaxKernels } from "./softmaxKernels.ts";
import { addRandomKernel } from "./randomKernel.ts";
import { CONTROL_BYTES, MAX_TASKS, MAX_THREADS, ROW_INTS, THREAD_SCRATCH_BYTES, WorkerPool } from "./pool.ts";
import { type WasmMemory, webAssembly } from "./webAssemblyApi.ts";

export const PAGE = 65536;
export const MAXIMUM_PAGES = 65536; // 4 GiB, the wasm32 limit
export const CALL_AT = CONTROL_BYTES;
export const CALL_BYTES = 65536;
/** Float64 arguments of a kernel call (eps, distribution parameters) go here, apart from descriptors. */
export const CALL_SCALARS_AT = CALL_AT + CALL_BYTES / 2;
export const SCRATCH_AT = CALL_AT + CALL_BYTES;
export const SCRATCH_BYTES = THREAD_SCRATCH_BYTES;
export const HEAP_START = SCRATCH_AT + MAX_THREADS * SCRATCH_BYTES;
const GUARD_BYTES = 64;
const INITIAL_HEAP_BYTES = 16 * 2 ** 20;

type KernelFn = (...args: number[]) => void;

/** The runtime's state; views of the memory are refreshed whenever it grows. */
export interface Runtime {
  readonly memory: WasmMemory;
  readonly shared: boolean;
  readonly relaxedSimd: boolean;
  readonly heap: Heap;
  readonly pool: WorkerPool;
  /** Exports on the calling thread, by name. */
  readonly kernels: Readonly<Record<string, KernelFn>>;
  /** Export index of each kernel (what a task table row names). */
  readonly kernelIndex: Readonly<Record<string, number>>;
  /** Why the pool has no workers (no shared memory here), or null. */
  readonly singleThreadReason: string | null;
  f32: Float32Array;
  f64: Float64Array;
  i32: Int32Array;
  u8: Uint8Array;
}

let state: Runtime | null | undefined;
let unavailable = "";
let threadCount = 0; // 0: not chosen yet (all cores)

/** Why the wasm runtime cannot run here, or null when it can. */
export function runtimeUnavailable(): string | null {
  if (state === undefined) tryCreate();
  return state ? null : unavailable;
}

/** The runtime, created on first use; throws (saying why) where WebAssembly SIMD is missing. */
export function runtime(): Runtime {
  if (state === undefined) tryCreate();
  if (!state) throw new Error(`the wasm CPU runtime is unavailable: ${unavailable}`);
  return state;
}

function tryCreate(): void {
  try {
    state = create();
  } catch (error) {
    state = null;
    unavailable = error instanceof Error ? error.message : String(error);
  }
}

/** Whether this engine has relaxed SIMD, turning on the V8 flag that enables it on Node 20 if needed. */
function detectRelaxedSimd(): boolean {
  const wasm = webAssembly!;
  if (wasm.validate(relaxedSimdProbe())) return true;
  platform.enableRelaxedSimd();
  return wasm.validate(relaxedSimdProbe());
}

function newMemory(shared: boolean): { memory: WasmMemory; maximumPages: number } {
  const initial = Math.ceil((HEAP_START + INITIAL_HEAP_BYTES) / PAGE);
  let lastError: unknown;
  // A browser may refuse to reserve 4 GiB of address space: ask for less until it agrees.
  for (let maximum = MAXIMUM_PAGES; maximum >= 4096; maximum /= 2) {
    try {
      return { memory: new webAssembly!.Memory({ initial, maximum, shared }), maximumPages: maximum };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`could not create a WebAssembly memory: ${(lastError as Error)?.message}`);
}

function create(): Runtime {
  const wasm = webAssembly;
  if (!wasm) throw new Error("this JavaScript engine has no WebAssembly");
  if (!wasm.validate(simdProbe())) throw new Error("this engine's WebAssembly has no SIMD");
  const relaxedSimd = detectRelaxedSimd();
  const singleThreadReason =
    platform.threadsUnavailable() ?? (typeof SharedArrayBuffer === "undefined" ? "no SharedArrayBuffer" : null);
  const shared = singleThreadReason === null;
  const { memory, maximumPages } = newMemory(shared);

  const builder = new ModuleBuilder({ initialPages: 1, maximumPages, shared });
  const mathImports = MATH_IMPORTS.map((m) => m.name);
  for (const m of MATH_IMPORTS) builder.importFunction(m.name, m.params, m.results);
  addGemmKernels(builder, { ...DEFAULT_SHAPE, relaxedSimd });
  addElementwiseKernel(builder);
  addReduceKernels(builder);
  addSoftmaxKernels(builder);
  addLayerNormKernels(builder);
  addRandomKernel(builder);
  addIndexKernels(builder);
  const exportNames = builder.exportNames();
  const module = new wasm.Module(builder.encode());
  const env: { memory: WasmMemory } & Record<string, unknown> = { memory };
  const math = Math as unknown as Record<string, unknown>;
  for (const name of mathImports) env[name] = math[name];
  const { exports } = new wasm.Instance(module, { env });
  const kernels: Record<string, KernelFn> = {};
  const kernelIndex: Record<string, number> = {};
  exportNames.forEach((name, i) => {
    kernels[name] = exports[name] as KernelFn;
    kernelIndex[name] = i;
  });
  const pool = new WorkerPool({
    memory,
    module,
    fns: exportNames.map((name) => kernels[name]),
    exportNames,
    mathImports,
    scratchAt: SCRATCH_AT,
    scratchBytes: SCRATCH_BYTES,
    platform,
  });

  const rt: Runtime = {
    memory,
    shared,
    relaxedSimd,
    pool,
    kernels,
    kernelIndex,
    singleThreadReason,
    heap: undefined as unknown as Heap,
    f32: new Float32Array(0),
    f64: new Float64Array(0),
    i32: new Int32Array(0),
    u8: new Uint8Array(0),
  };
  refreshViews(rt);
  const grow = (end: number): boolean => {
    const want = end + GUARD_BYTES;
    const have = memory.buffer.byteLength;
    if (want > have) {
      try {
        memory.grow(Math.ceil((want - have) / PAGE));
      } catch {
        return false;
      }
    }
    refreshViews(rt);
    return true;
  };
  (rt as { heap: Heap }).heap = new Heap({
    start: HEAP_START,
    end: memory.buffer.byteLength - GUARD_BYTES,
    maxEnd: maximumPages * PAGE - GUARD_BYTES,
    grow,
  });
  if (singleThreadReason) platform.notice(`the cpu backend runs on one thread: ${singleThreadReason}`);
  return rt;
}

function refreshViews(rt: Runtime): void {
  const buffer = rt.memory.buffer;
  rt.f32 = new Float32Array(buffer);
  rt.f64 = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
  rt.i32 = new Int32Array(buffer);
  rt.u8 = new Uint8Array(buffer);
}

/** Threads the kernels use (the calling thread included). */
export function cpuThreads(): number {
  const rt = runtime();
  if (rt.singleThreadReason || rt.pool.workerFailed) return 1;
  if (threadCount === 0) threadCount = Math.max(1, Math.min(MAX_THREADS, platform.hardwareConcurrency()));
  return threadCount;
}

/**
 * Starts the worker threads and resolves, with the number of threads the kernels use, once they
 * are running. Workers start asynchronously: in a browser none can start while a script runs
 * without yielding, so a page awaits this once before its first heavy computation (in Node they
 * join on their own within milliseconds; awaiting is optional).
 */
export async function cpuReady(timeoutMs = 10_000): Promise<number> {
  const rt = runtime();
  const helpers = cpuThreads() - 1;
  if (helpers <= 0) return 1;
  rt.pool.ensureWorkers(helpers);
  const deadline = Date.now() + timeoutMs;
  while (rt.pool.readyCount < helpers && !rt.pool.workerFailed && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 2));
  if (rt.pool.workerFailed)
    platform.notice(`a cpu worker thread failed to start (${rt.pool.failure}); the cpu backend runs on one thread`);
  return cpuThreads();
}

/** Sets how many threads the kernels use (the calling thread included); surplus workers sleep. */
export function setCpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS)
    throw new RangeError(`setCpuThreads: expected an integer in 1..${MAX_THREADS}, got ${n}`);
  threadCount = n;
}

/**
 * Runs tasks 0 .. count-1 of the task table on `threads` threads (1: the calling thread alone) and
 * returns when all are done.
 */
export function runTasks(rt: Runtime, count: number, threads: number): void {
  const helpers = Math.min(threads, cpuThreads(), count) - 1;
  if (helpers <= 0) {
    runHere(rt, count);
    return;
  }
  rt.pool.ensureWorkers(helpers);
  rt.pool.run(count, Math.min(helpers, rt.pool.workerCount));
}

/** Runs the table's tasks in order on the calling thread, without the pool's atomics. */
function runHere(rt: Runtime, count: number): void {
  const t = rt.pool.table;
  const fns = rt.pool.fns;
  for (let i = 0; i < count; i++) {
    const a = i * ROW_INTS + 2;
    fns[t[a - 2]](
      t[a],
      t[a + 1],
      t[a + 2],
      t[a + 3],
      t[a + 4],
      t[a + 5],
      t[a + 6],
      t[a + 7],
      t[a + 8],
      t[a + 9],
      t[a + 10],
      t[a + 11],
      t[a + 12],
      t[a + 13],
      t[a + 14],
      SCRATCH_AT,
    );
  }
}

let queued = 0;

/** Appends a task (kernel `fn`, an export index, and its arguments) to the queue run by runQueue. */
export function queueTask(
  rt: Runtime,
  fn: number,
  a0 = 0,
  a1 = 0,
  a2 = 0,
  a3 = 0,
  a4 = 0,
  a5 = 0,
  a6 = 0,
  a7 = 0,
  a8 = 0,
  a9 = 0,
  a10 = 0,
  a11 = 0,
  a12 = 0,
  a13 = 0,
  a14 = 0,
): void {
  if (queued === MAX_TASKS) throw new Error(`wasm runtime: more than ${MAX_TASKS} tasks queued`);
  const t = rt.pool.table;
  const r = queued++ * ROW_INTS;
  t[r] = fn;
  t[r + 1] = 0;
  t[r + 2] = a0;
  t[r + 3] = a1;
  t[r + 4] = a2;
  t[r + 5] = a3;
  t[r + 6] = a4;
  t[r + 7] = a5;
  t[r + 8] = a6;
  t[r + 9] = a7;
  t[r + 10] = a8;
  t[r + 11] = a9;
  t[r + 12] = a10;
  t[r + 13] = a11;
  t[r + 14] = a12;
  t[r + 15] = a13;
  t[r + 16] = a14;
}

/** Runs the queued tasks on up to `threads` threads and empties the queue. */
export function runQueue(rt: Runtime, threads: number): void {
  const count = queued;
  queued = 0;
  runTasks(rt, count, threads);
}
