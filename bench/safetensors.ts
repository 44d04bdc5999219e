// The bench's float32 view of safetensors files, on top of the library's reader/writer (src/io/safetensors.ts).
//
// The bench only exchanges float32 tensors between its own processes; this adapter keeps that one shape
// ({shape, data: Float32Array}) so the impls never see dtypes.
import { SafetensorsError, toFloat32 } from "../src/io/safetensors.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../src/node/safetensorsFile.ts";

export { SafetensorsError };

/** A dense row-major float32 tensor. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type Tensors = Map<string, Tensor>;

/** Writes `tensors` as F32 to `path`, atomically (temp file + rename), in insertion order. */
export function writeSafetensors(path: string, tensors: Tensors, metadata: Record<string, string> = {}): void {
  writeSafetensorsFile(
    path,
    new Map([...tensors].map(([name, t]) => [name, { dtype: "F32" as const, ...t }])),
    metadata,
  );
}

/** Reads every tensor of a safetensors file as float32, in header order. */
export function readSafetensors(path: string): Tensors {
  const file = readSafetensorsFile(path);
  return new Map([...file.tensors].map(([name, t]) => [name, { shape: t.shape, data: toFloat32(t, name) }]));
}
