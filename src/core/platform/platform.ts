// What the CPU backend needs from its host to run on several threads: how many there are, a way to
// start a worker, and whether this thread may block. Node (platform/node.ts) and the web
// (platform/browser.ts) implement it; package.json "imports" picks one as "#platform", so nothing
// under src/core imports `node:` on the browser's path.

/** A started worker thread; it runs until it returns or is terminated. */
export interface PlatformWorker {
  terminate(): void;
}

export interface Platform {
  readonly name: "node" | "browser";
  /** Logical cores available to this process. */
  hardwareConcurrency(): number;
  /**
   * Why worker threads sharing memory are unavailable here (a page that is not cross-origin
   * isolated, an engine without workers), or null when they work.
   */
  threadsUnavailable(): string | null;
  /** Whether this thread may block in Atomics.wait (a browser's main thread may not: it spins). */
  readonly canBlock: boolean;
  /**
   * Starts a worker that evaluates `main` (the source of a function expression, which must use
   * nothing but its argument and globals) and calls it with `init` (structured-cloned: shared
   * memories and compiled modules are shared). `onError` is called if the worker fails to start or
   * throws; a worker never receives messages after this: it must not need any while it is parked.
   */
  startWorker(main: string, init: unknown, onError: (message: string) => void): PlatformWorker;
  /** Enables relaxed SIMD where the engine has it behind a flag (Node 20's V8); a no-op elsewhere. */
  enableRelaxedSimd(): void;
  /** Says something once per process on the console (a slowdown the user should know about). */
  notice(message: string): void;
}

const said = new Set<string>();

/** console.warn, once per distinct message. */
export function noticeOnce(message: string): void {
  if (said.has(message)) return;
  said.add(message);
  console.warn(`vitmae-ts: ${message}`);
}
