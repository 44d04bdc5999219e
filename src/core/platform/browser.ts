// The web platform: Web Workers sharing a WebAssembly memory, which needs a cross-origin-isolated page
// (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp); elsewhere one thread. package.json "imports" maps "#platform" here by default.
import { noticeOnce, type Platform } from "./platform.ts";

interface WebGlobals {
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  Worker?: new (url: string) => WebWorker;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string; revokeObjectURL(url: string): void };
  navigator?: { hardwareConcurrency?: number };
  document?: unknown;
}
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onerror: ((event: { message?: string }) => void) | null;
}

const web = globalThis as unknown as WebGlobals;

export const platform: Platform = {
  name: "browser",
  hardwareConcurrency: () => web.navigator?.hardwareConcurrency ?? 1,
  threadsUnavailable() {
    if (!web.Worker || !web.Blob || !web.URL) return "this JavaScript environment has no Web Workers";
    if (web.SharedArrayBuffer === undefined || web.crossOriginIsolated === false)
      return (
        "this page is not cross-origin isolated, so WebAssembly memory cannot be shared with Web Workers " +
        "(serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
      );
    return null;
  },
  // Atomics.wait throws on a page's main thread; inside a worker it is allowed.
  canBlock: web.document === undefined,
  startWorker(main, init, onError) {
    const { Worker, Blob, URL } = web;
    if (!Worker || !Blob || !URL) throw new Error("startWorker: no Web Workers here");
    // The worker takes its one message (the init) and then never returns to its event loop.
    const source = `self.onmessage = (event) => { self.onmessage = null; (${main})(event.data); };`;
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const worker = new Worker(url);
    worker.onerror = (event) => onError(event.message ?? "worker error");
    worker.postMessage(init); // (the blob URL stays valid: revoking it may race the worker's fetch)
    return { terminate: () => worker.terminate() };
  },
  enableRelaxedSimd() {},
  notice: noticeOnce,
};
