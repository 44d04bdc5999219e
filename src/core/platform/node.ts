// The Node platform: worker_threads for workers, os for the core count, and the V8 flag that turns on
// relaxed SIMD in Node 20. The only file under src/core that imports `node:` (package.json
// "imports" maps "#platform" here under the "node" condition).
import os from "node:os";
import v8 from "node:v8";
import { Worker } from "node:worker_threads";
import { noticeOnce, type Platform } from "./platform.ts";

export const platform: Platform = {
  name: "node",
  hardwareConcurrency: () => os.availableParallelism(),
  threadsUnavailable: () => null,
  canBlock: true,
  startWorker(main, init, onError) {
    // An eval'd worker is a CommonJS script: it takes its init from workerData.
    const source = `(${main})(require("node:worker_threads").workerData);`;
    const worker = new Worker(source, { eval: true, workerData: init });
    worker.unref(); // idle workers never keep the process alive
    worker.on("error", (error) => onError(error instanceof Error ? error.message : String(error)));
    return { terminate: () => void worker.terminate() };
  },
  enableRelaxedSimd() {
    try {
      v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // Flags locked: WebAssembly.validate decides.
    }
  },
  notice: noticeOnce,
};
