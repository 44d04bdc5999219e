// Worker-thread pool for the wasm GEMM: a task table in shared memory, claimed with atomics by the
// main thread and the workers alike (a synchronous fork-join, the main thread waits with Atomics.wait).
import { Worker } from "node:worker_threads";
import type { WasmMemory, WasmModule } from "./webAssemblyApi.ts";

// Layout of the control region at the start of the shared memory (bytes 0 .. CONTROL_BYTES).
/** Int32 control words. */
const CTL_EPOCH = 0; // bumped for every job the workers are woken for
const CTL_DONE = 1; // tasks of the current job completed
const CTL_ERROR = 2; // non-zero once a task threw
const CTL_WORKERS = 3; // workers with index >= this value exit (0 when the pool closes)
const CTL_WORKER_FAILED = 4; // non-zero once a worker could not start
const CTL_TASKS = 16; // CTL_TASKS + thread: tasks run by that thread (diagnostics)
const CTL_INTS = CTL_TASKS + 16;
/** BigInt64 words (a 64-bit claim counter never wraps, so a stale worker can never claim a task). */
const CLAIM_BYTE_OFFSET = 256;
const CLAIM_NEXT = 0; // next task number to claim, monotonic over the process lifetime
const CLAIM_END = 1; // the current job owns task numbers [BASE, END)
const CLAIM_BASE = 2;
const CLAIM_WORDS = 4;
export const MAX_THREADS = CTL_INTS - CTL_TASKS;
/**
 * The task table. A row: [export index, tasks that must be done before it starts, 15 i32
 * arguments], then scratch for the thread running the task (one edge tile of C).
 */
const TABLE_BYTE_OFFSET = 1024;
export const ROW_INTS = 64;
const ROW_SCRATCH_INTS = 32;
export const SCRATCH_FLOATS = ROW_INTS - ROW_SCRATCH_INTS;
export const CONTROL_BYTES = 131072;
export const MAX_TASKS = Math.floor((CONTROL_BYTES - TABLE_BYTE_OFFSET) / (4 * ROW_INTS));
/** A task that makes no progress for this long means a lost worker: fail rather than hang. */
const STALL_MS = 60_000;

type KernelFn = (...args: number[]) => void;

/** What runTasks needs of the layout, passed in as data: it also runs from its source text. */
const LAYOUT = {
  CTL_DONE,
  CTL_ERROR,
  CTL_TASKS,
  CLAIM_NEXT,
  CLAIM_END,
  CLAIM_BASE,
  ROW_INTS,
  ROW_SCRATCH_INTS,
  STALL_MS,
};
type Layout = typeof LAYOUT;

/**
 * Claims and runs tasks of the current job until none is left. Runs on the main thread and, via
 * its source text, in every worker, so it uses nothing but its arguments and globals (a bundler
 * may rename module-level names, not property names).
 */
function runTasks(
  ctl: Int32Array,
  claim: BigInt64Array,
  table: Int32Array,
  fns: KernelFn[],
  thread: number,
  L: Layout,
): void {
  for (;;) {
    const end = Atomics.load(claim, L.CLAIM_END);
    const g = Atomics.load(claim, L.CLAIM_NEXT);
    if (g >= end) return;
    if (Atomics.compareExchange(claim, L.CLAIM_NEXT, g, g + 1n) !== g) continue;
    // Task g is claimed, so its job cannot finish (and the table cannot change) before we are done.
    const row = Number(g - Atomics.load(claim, L.CLAIM_BASE)) * L.ROW_INTS;
    const waitFor = table[row + 1];
    for (let d = Atomics.load(ctl, L.CTL_DONE); d < waitFor; d = Atomics.load(ctl, L.CTL_DONE)) {
      if (Atomics.wait(ctl, L.CTL_DONE, d, L.STALL_MS) === "timed-out")
        throw new Error("gemm: packing tasks stalled (lost worker?)");
    }
    try {
      const a = row + 2;
      const scratch = table.byteOffset + 4 * (row + L.ROW_SCRATCH_INTS);
      fns[table[row]](
        table[a],
        table[a + 1],
        table[a + 2],
        table[a + 3],
        table[a + 4],
        table[a + 5],
        table[a + 6],
        table[a + 7],
        table[a + 8],
        table[a + 9],
        table[a + 10],
        table[a + 11],
        table[a + 12],
        table[a + 13],
        table[a + 14],
        scratch,
      );
    } catch {
      Atomics.store(ctl, L.CTL_ERROR, 1);
    }
    Atomics.add(ctl, L.CTL_TASKS + thread, 1);
    Atomics.add(ctl, L.CTL_DONE, 1);
    Atomics.notify(ctl, L.CTL_DONE);
  }
}

/** The worker's JS source: runTasks, and a loop that sleeps until the next job. */
function workerSource(exportNames: readonly string[]): string {
  // No V8 flag is needed here: the module arrives compiled (and V8 flags are process-wide anyway).
  return `
const { workerData } = require("node:worker_threads");
const __name = (f) => f; // tsx (esbuild keepNames) may wrap functions inside runTasks' source
const runTasks = ${runTasks.toString()};
const { module, memory, index } = workerData;
const ctl = new Int32Array(memory.buffer, 0, ${CTL_INTS});
try {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = ${JSON.stringify(exportNames)}.map((name) => exports[name]);
  const claim = new BigInt64Array(memory.buffer, ${CLAIM_BYTE_OFFSET}, ${CLAIM_WORDS});
  const table = new Int32Array(memory.buffer, ${TABLE_BYTE_OFFSET}, ${MAX_TASKS * ROW_INTS});
  for (;;) {
    const seen = Atomics.load(ctl, ${CTL_EPOCH});
    if (index >= Atomics.load(ctl, ${CTL_WORKERS})) break;
    runTasks(ctl, claim, table, fns, index + 1, ${JSON.stringify(LAYOUT)});
    Atomics.wait(ctl, ${CTL_EPOCH}, seen);
  }
} catch (error) {
  Atomics.store(ctl, ${CTL_WORKER_FAILED}, 1);
  throw error;
}
`;
}

/**
 * Runs jobs (task tables) over the main thread plus up to MAX_THREADS - 1 workers sharing one
 * wasm memory. Workers start lazily, are unref()ed (they never keep the process alive) and sleep
 * in Atomics.wait between jobs.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly claim: BigInt64Array;
  /** The task table; the caller fills rows 0 .. count-1 before `run`. */
  readonly table: Int32Array;

  constructor(
    private readonly memory: WasmMemory,
    private readonly module: WasmModule,
    private readonly fns: KernelFn[],
    private readonly exportNames: readonly string[],
  ) {
    this.ctl = new Int32Array(memory.buffer, 0, CTL_INTS);
    this.claim = new BigInt64Array(memory.buffer, CLAIM_BYTE_OFFSET, CLAIM_WORDS);
    this.table = new Int32Array(memory.buffer, TABLE_BYTE_OFFSET, MAX_TASKS * ROW_INTS);
  }

  /** Starts workers until there are at least `workerCount` (the main thread comes on top). */
  ensureWorkers(workerCount: number): void {
    const count = Math.min(MAX_THREADS - 1, workerCount);
    while (this.workers.length < count) {
      const index = this.workers.length;
      const workerData = { module: this.module, memory: this.memory, index };
      const worker = new Worker(workerSource(this.exportNames), { eval: true, workerData });
      worker.unref();
      // A worker that dies has set CTL_WORKER_FAILED; the other threads carry on without it.
      worker.on("error", () => {});
      this.workers.push(worker);
    }
    Atomics.store(this.ctl, CTL_WORKERS, this.workers.length);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** True once a worker failed to start (the main thread then does all the work). */
  get workerFailed(): boolean {
    return Atomics.load(this.ctl, CTL_WORKER_FAILED) !== 0;
  }

  /** Tasks run so far by each thread (index 0: the main thread), for diagnostics and tests. */
  taskCounts(): number[] {
    return Array.from(this.ctl.subarray(CTL_TASKS, CTL_TASKS + 1 + this.workers.length));
  }

  /** Retires all workers (before the pool is dropped): they exit on waking. */
  close(): void {
    this.workers.length = 0;
    Atomics.store(this.ctl, CTL_WORKERS, 0);
    Atomics.add(this.ctl, CTL_EPOCH, 1);
    Atomics.notify(this.ctl, CTL_EPOCH);
  }

  /**
   * Runs tasks 0 .. count-1 of the table on the main thread and `helpers` woken workers, and
   * returns when all are done. Workers not woken sleep on (one that happens to be awake, finishing
   * the previous job, may still help).
   */
  run(count: number, helpers: number): void {
    if (count > MAX_TASKS) throw new RangeError(`WorkerPool.run: ${count} tasks, more than MAX_TASKS=${MAX_TASKS}`);
    const { ctl, claim } = this;
    Atomics.store(ctl, CTL_DONE, 0);
    Atomics.store(ctl, CTL_ERROR, 0);
    const base = Atomics.load(claim, CLAIM_NEXT); // every earlier task is claimed and done
    Atomics.store(claim, CLAIM_BASE, base);
    Atomics.store(claim, CLAIM_END, base + BigInt(count)); // publishes the job
    if (helpers > 0) {
      Atomics.add(ctl, CTL_EPOCH, 1);
      Atomics.notify(ctl, CTL_EPOCH, helpers);
    }
    runTasks(ctl, claim, this.table, this.fns, 0, LAYOUT);
    let stalledSince = Date.now();
    for (let d = Atomics.load(ctl, CTL_DONE); d < count; ) {
      Atomics.wait(ctl, CTL_DONE, d, 1000);
      const now = Atomics.load(ctl, CTL_DONE);
      if (now !== d) stalledSince = Date.now();
      else if (Date.now() - stalledSince > STALL_MS) {
        throw new Error(`gemm: a worker thread stopped responding (${count - d} of ${count} tasks unfinished)`);
      }
      d = now;
    }
    if (Atomics.load(ctl, CTL_ERROR) !== 0) throw new Error("gemm: a wasm kernel task failed (out-of-bounds access?)");
  }
}
