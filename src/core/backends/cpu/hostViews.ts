// The reference kernels (hostKernels.ts) run on the cpu backend's data where no wasm kernel applies
// (host-fallback storage, programs too long for the interpreter): a resident view is a HostView of
// the whole memory's Float32Array at the tensor's offset, so they read and write it in place.
import type { Storage, Target, View } from "../../backend.ts";
import { runtime } from "../../wasm/runtime.ts";
import type { HostArray, HostView } from "../hostKernels.ts";
import { hostData } from "../reference.ts";
import { baseIndex, WasmStorage } from "./storage.ts";

/** The array and the index of element 0 of the storage. */
export function hostArray(s: Storage): [HostArray, number] {
  if (s instanceof WasmStorage) return [runtime().f32, baseIndex(s)];
  return [hostData(s), 0];
}

export function hostView(v: View): HostView {
  const [data, at] = hostArray(v.storage);
  return { data, shape: v.shape, strides: v.strides, offset: at + v.offset };
}

export function hostTarget(t: Target): [HostArray, number] {
  const [data, at] = hostArray(t.storage);
  return [data, at + t.offset];
}

/** True when every storage is in the wasm heap (so the wasm kernels may run). */
export function allResident(...storages: Storage[]): boolean {
  for (const s of storages) if (!(s instanceof WasmStorage)) return false;
  return true;
}
