// Worker-thread pool for the wasm kernels: a task table in shared memory, claimed with atomics by the
// calling thread and the workers alike (a synchronous fork-join). Workers spin briefly after a job
// (back-to-back kernels then start in a microsecond), then sleep in Atomics.wait; they never need a
// message after they start, so a parked Web Worker works too.
import type { Platform, PlatformWorker } from "../platform/platform.ts";
import type { WasmMemory, WasmModule } from "./webAssemblyApi.ts";

// Layout of the control region at the start of the shared memory (bytes 0 .. CONTROL_BYTES).
/** Int32 control words. */
const CTL_EPOCH = 0; // bumped for every job the workers are woken for
const CTL_DONE = 1; // tasks of the current job completed
const CTL_ERROR = 2; // non-zero once a task threw
const CTL_WORKERS = 3; // workers with index >= this value exit (0 when the pool closes)
const CTL_WORKER_FAILED = 4; // non-zero once a worker could not start
const CTL_SPIN = 5; // how many times a worker polls for the next job before it sleeps
const CTL_READY = 6; // workers that have instantiated the module and wait for jobs
const CTL_TASKS = 16; // CTL_TASKS + thread: tasks run by that thread (diagnostics)
const CTL_INTS = CTL_TASKS + 16;
/** BigInt64 words (a 64-bit claim counter never wraps, so a stale worker can never claim a task). */
const CLAIM_BYTE_OFFSET = 256;
const CLAIM_NEXT = 0; // next task number to claim, monotonic over the process lifetime
const CLAIM_END = 1; // the current job owns task numbers [BASE, END)
const CLAIM_BASE = 2;
const CLAIM_WORDS = 4;
export const MAX_THREADS = CTL_INTS - CTL_TASKS;
/** The task table. A row: [export index, tasks that must be done before it starts, 15 i32 arguments]. */
const TABLE_BYTE_OFFSET = 1024;
export const ROW_INTS = 17;
export const CONTROL_BYTES = 65536;
/** Scratch memory each thread's kernels may use (the address comes as their last argument). */
export const THREAD_SCRATCH_BYTES = 65536;
export const MAX_TASKS = Math.floor((CONTROL_BYTES - TABLE_BYTE_OFFSET) / (4 * ROW_INTS));
/** A task that makes no progress for this long means a lost worker: fail rather than hang. */
const STALL_MS = 60_000;
/** Polls of a finished worker before it sleeps (~30 µs here; measured in bench/kernels.ts). */
export const DEFAULT_SPIN = 2000;

type KernelFn = (...args: number[]) => void;

/** What runTasks needs of the layout, passed in as data: it also runs from its source text. */
const LAYOUT = { CTL_DONE, CTL_ERROR, CTL_TASKS, CLAIM_NEXT, CLAIM_END, CLAIM_BASE, ROW_INTS, STALL_MS };
type Layout = typeof LAYOUT;

/**
 * Claims and runs tasks of the current job until none is left; each kernel gets the task's 15
 * arguments and this thread's scratch address. Runs on the calling thread and, via its source text,
 * in every worker, so it uses nothing but its arguments and globals (a bundler may rename
 * module-level names, not property names).
 */
function runTasks(
  ctl: Int32Array,
  claim: BigInt64Array,
  table: Int32Array,
  fns: KernelFn[],
  thread: number,
  scratch: number,
  block: boolean,
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
    // Wait for the tasks this one depends on (spinning where this thread may not block: a page's main thread).
    const since = Date.now();
    for (let d = Atomics.load(ctl, L.CTL_DONE); d < waitFor; d = Atomics.load(ctl, L.CTL_DONE)) {
      const late = block
        ? Atomics.wait(ctl, L.CTL_DONE, d, L.STALL_MS) === "timed-out"
        : Date.now() - since > L.STALL_MS;
      if (late) throw new Error("wasm pool: dependent tasks stalled (lost worker?)");
    }
    try {
      const a = row + 2;
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

/** What a worker is started with (structured-cloned: the memory and module are shared, not copied). */
interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  index: number;
  exportNames: readonly string[];
  mathImports: readonly string[];
  scratch: number;
}

/** The worker's main function, as source: instantiate the module once, then run jobs until retired. */
function workerMain(): string {
  return `(init) => {
  const __name = (f) => f; // tsx (esbuild keepNames) may wrap functions inside runTasks' source
  const runTasks = ${runTasks.toString()};
  const { module, memory, index, exportNames, mathImports, scratch } = init;
  const ctl = new Int32Array(memory.buffer, 0, ${CTL_INTS});
  try {
    const env = { memory };
    for (const name of mathImports) env[name] = Math[name];
    const exports = new WebAssembly.Instance(module, { env }).exports;
    const fns = exportNames.map((name) => exports[name]);
    const claim = new BigInt64Array(memory.buffer, ${CLAIM_BYTE_OFFSET}, ${CLAIM_WORDS});
    const table = new Int32Array(memory.buffer, ${TABLE_BYTE_OFFSET}, ${MAX_TASKS * ROW_INTS});
    const layout = ${JSON.stringify(LAYOUT)};
    Atomics.add(ctl, ${CTL_READY}, 1);
    for (;;) {
      const seen = Atomics.load(ctl, ${CTL_EPOCH});
      if (index >= Atomics.load(ctl, ${CTL_WORKERS})) break;
      runTasks(ctl, claim, table, fns, index + 1, scratch, true, layout);
      for (let spin = Atomics.load(ctl, ${CTL_SPIN}); spin > 0 && Atomics.load(ctl, ${CTL_EPOCH}) === seen; spin--);
      Atomics.wait(ctl, ${CTL_EPOCH}, seen);
    }
  } catch (error) {
    Atomics.store(ctl, ${CTL_WORKER_FAILED}, 1);
    throw error;
  }
}`;
}

export interface PoolOptions {
  memory: WasmMemory;
  module: WasmModule;
  /** The calling thread's instance exports, in the order of `exportNames`. */
  fns: KernelFn[];
  exportNames: readonly string[];
  /** Names of Math functions the module imports from env. */
  mathImports: readonly string[];
  /** Scratch address of thread t: scratchAt + t * scratchBytes. */
  scratchAt: number;
  scratchBytes: number;
  platform: Platform;
}

/**
 * Runs jobs (task tables) over the calling thread plus up to MAX_THREADS - 1 workers sharing one
 * wasm memory. Workers start lazily and never keep the process alive.
 */
export class WorkerPool {
  private readonly workers: PlatformWorker[] = [];
  private readonly ctl: Int32Array;
  private readonly claim: BigInt64Array;
  /** The task table; the caller fills rows 0 .. count-1 before `run`. */
  readonly table: Int32Array;
  /** The calling thread's kernels, by export index. */
  readonly fns: readonly KernelFn[];
  /** Why a worker failed, once one did (the calling thread then does all the work). */
  failure: string | null = null;

  constructor(private readonly o: PoolOptions) {
    const buffer = o.memory.buffer;
    this.ctl = new Int32Array(buffer, 0, CTL_INTS);
    this.claim = new BigInt64Array(buffer, CLAIM_BYTE_OFFSET, CLAIM_WORDS);
    this.table = new Int32Array(buffer, TABLE_BYTE_OFFSET, MAX_TASKS * ROW_INTS);
    this.fns = o.fns;
    Atomics.store(this.ctl, CTL_SPIN, DEFAULT_SPIN);
  }

  /** Starts workers until there are at least `workerCount` (the calling thread comes on top). */
  ensureWorkers(workerCount: number): void {
    const count = Math.min(MAX_THREADS - 1, workerCount);
    while (this.workers.length < count && !this.workerFailed) {
      const index = this.workers.length;
      const init: WorkerInit = {
        module: this.o.module,
        memory: this.o.memory,
        index,
        exportNames: this.o.exportNames,
        mathImports: this.o.mathImports,
        scratch: this.o.scratchAt + (index + 1) * this.o.scratchBytes,
      };
      const onError = (message: string) => {
        this.failure ??= message;
        Atomics.store(this.ctl, CTL_WORKER_FAILED, 1);
      };
      this.workers.push(this.o.platform.startWorker(workerMain(), init, onError));
    }
    Atomics.store(this.ctl, CTL_WORKERS, this.workers.length);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Workers that have started and instantiated the module (they run tasks from then on). */
  get readyCount(): number {
    return Atomics.load(this.ctl, CTL_READY);
  }

  /** True once a worker failed to start (the calling thread then does all the work). */
  get workerFailed(): boolean {
    return Atomics.load(this.ctl, CTL_WORKER_FAILED) !== 0;
  }

  /** How long a finished worker polls for the next job before it sleeps (0: sleep at once). */
  setSpin(polls: number): void {
    Atomics.store(this.ctl, CTL_SPIN, polls);
  }

  /** Tasks run so far by each thread (index 0: the calling thread), for diagnostics and tests. */
  taskCounts(): number[] {
    return Array.from(this.ctl.subarray(CTL_TASKS, CTL_TASKS + 1 + this.workers.length));
  }

  /** Retires all workers: they exit on waking. */
  close(): void {
    this.workers.length = 0;
    Atomics.store(this.ctl, CTL_WORKERS, 0);
    Atomics.add(this.ctl, CTL_EPOCH, 1);
    Atomics.notify(this.ctl, CTL_EPOCH);
  }

  /**
   * Runs tasks 0 .. count-1 of the table on the calling thread and `helpers` woken workers, and
   * returns when all are done. Workers not woken sleep on (one still spinning may help).
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
    runTasks(ctl, claim, this.table, this.o.fns, 0, this.o.scratchAt, this.o.platform.canBlock, LAYOUT);
    if (Atomics.load(ctl, CTL_DONE) < count) this.waitForOthers(count);
    if (Atomics.load(ctl, CTL_ERROR) !== 0) throw new Error("wasm pool: a kernel task failed (out-of-bounds access?)");
  }

  private waitForOthers(count: number): void {
    const { ctl } = this;
    const block = this.o.platform.canBlock;
    let spin = 4 * Atomics.load(ctl, CTL_SPIN);
    let stalledSince = Date.now();
    for (let d = Atomics.load(ctl, CTL_DONE); d < count; ) {
      if (spin > 0) spin--;
      else if (block) Atomics.wait(ctl, CTL_DONE, d, 1000);
      const now = Atomics.load(ctl, CTL_DONE);
      if (now !== d) stalledSince = Date.now();
      else if (spin === 0 && Date.now() - stalledSince > STALL_MS) {
        throw new Error(`wasm pool: a worker thread stopped responding (${count - d} of ${count} tasks unfinished)`);
      }
      d = now;
    }
  }
}
