// Where the cpu backend's tensors live: blocks of the shared wasm heap, reached through handles. A
// block goes back to the heap when free() is called (compiled plans do that by liveness) or, for
// handles never freed, when the garbage collector finds the handle unreachable
// (FinalizationRegistry). Those callbacks run only when the event loop turns, so a long synchronous
// loop of eager ops frees nothing: past a soft limit, new tensors go to host arrays instead (the
// kernels then run the reference loops on them: correct, slower) and the console says so once.
import { platform } from "#platform";
import type { Backend, Storage } from "../../backend.ts";
import { runtime } from "../../wasm/runtime.ts";
import { HostStorage } from "../reference.ts";

/** Storage in the wasm heap: f32 elements [at, at + size) of the memory. */
export class WasmStorage implements Storage {
  readonly dtype = "float32" as const;
  constructor(
    readonly backend: Backend,
    readonly size: number,
    /** Index of element 0 in the memory's Float32Array; -1 once freed. */
    public at: number,
  ) {}
}

/** Storage of the cpu backend: in the heap, or (past the soft limit) a host array. */
export type CpuStorage = WasmStorage | HostStorage;

/** Gives the block back when its handle is collected without free(). */
const reclaim = new FinalizationRegistry<number>((byteAddress) => runtime().heap.free(byteAddress));

let softLimit: number | undefined; // bytes; undefined: 3/4 of the heap's limit
let fallbacks = 0;
let warned = false;

/** New storage of `size` float32 elements. */
export function allocStorage(backend: Backend, size: number): CpuStorage {
  const rt = runtime();
  const heap = rt.heap;
  if (size === 0) return new WasmStorage(backend, 0, heap.start / 4); // never read or written
  const bytes = heap.blockSize(4 * size);
  const limit = cpuHeapSoftLimit();
  const at = heap.liveBytes + bytes <= limit ? heap.alloc(4 * size) : -1;
  if (at < 0) {
    fallbacks++;
    if (!warned) {
      warned = true;
      const why =
        heap.liveBytes + bytes > limit
          ? `its wasm heap holds ${mib(heap.liveBytes)} of live tensors, past the soft limit of ${mib(limit)}`
          : `its wasm heap could not grow past ${mib(heap.capacityBytes)}`;
      platform.notice(
        `the cpu backend puts new tensors in host memory (correct, slower kernels): ${why}. ` +
          "Unreferenced tensors are released only when the event loop turns: await between steps " +
          "(e.g. await new Promise((r) => setTimeout(r))), or run the step under jit, which frees buffers as it goes.",
      );
    }
    return new HostStorage(backend, new Float32Array(size));
  }
  const s = new WasmStorage(backend, size, at / 4);
  reclaim.register(s, at, s);
  return s;
}

/** Gives storage back now. Freeing twice, or freeing zero-size storage, does nothing. */
export function freeStorage(s: Storage): void {
  if (!(s instanceof WasmStorage) || s.at < 0 || s.size === 0) return;
  reclaim.unregister(s);
  runtime().heap.free(4 * s.at);
  s.at = -1;
}

/** Element 0 of the storage in the memory's Float32Array; throws on freed storage. */
export function baseIndex(s: WasmStorage): number {
  if (s.at < 0) throw new Error("cpu backend: a tensor's storage was used after free()");
  return s.at;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The live bytes past which new tensors go to host memory. */
export function cpuHeapSoftLimit(): number {
  return softLimit ?? Math.floor(0.75 * runtime().heap.limitBytes);
}

/**
 * Sets the soft limit (bytes of live tensors in the wasm heap; at most the heap's limit). With no
 * argument, back to 3/4 of the limit.
 */
export function setCpuHeapSoftLimit(bytes?: number): void {
  if (bytes !== undefined && !(bytes >= 0 && Number.isFinite(bytes)))
    throw new RangeError(`setCpuHeapSoftLimit: expected a number of bytes >= 0, got ${bytes}`);
  softLimit = bytes === undefined ? undefined : Math.min(bytes, runtime().heap.limitBytes);
}

export interface CpuHeapStats {
  /** Bytes of live tensors (and kernel temporaries) in the heap now. */
  liveBytes: number;
  /** The most live at once since start or resetCpuHeapPeak(). */
  peakBytes: number;
  liveBlocks: number;
  /** Bytes the heap spans now, and the most it may. */
  capacityBytes: number;
  limitBytes: number;
  softLimitBytes: number;
  /** Tensors put in host memory so far because the heap was past its soft limit. */
  hostFallbacks: number;
}

export function cpuHeapStats(): CpuHeapStats {
  const heap = runtime().heap;
  return {
    liveBytes: heap.liveBytes,
    peakBytes: heap.peakBytes,
    liveBlocks: heap.liveBlocks,
    capacityBytes: heap.capacityBytes,
    limitBytes: heap.limitBytes,
    softLimitBytes: cpuHeapSoftLimit(),
    hostFallbacks: fallbacks,
  };
}

export function resetCpuHeapPeak(): void {
  runtime().heap.resetPeak();
}
