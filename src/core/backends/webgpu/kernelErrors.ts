// What GPU kernels can report: a kernel that finds bad input (an index out of range) cannot throw,
// so it records the first such finding in the queue's error word — a code and three numbers — and
// the next read or flush throws it as the reference backend would have thrown at once.

import type { KernelError } from "./gpuQueue.ts";

/** Error codes, and the WGSL that records one (the first finding wins; later ones are dropped). */
export const ERROR_CODES = { takeAlongAxis: 1, scatterAdd: 2 } as const;

/** The error word's declaration for a kernel whose error binding is `b{slot}`. */
export const errorDecl = (
  binding: number,
) => `struct Errors { code: atomic<u32>, value: atomic<u32>, axis: atomic<u32>, size: atomic<u32> }
@group(0) @binding(${binding}) var<storage, read_write> errors: Errors;
fn report(code: u32, value: f32, axis: u32, size: u32) {
  loop {
    let r = atomicCompareExchangeWeak(&errors.code, 0u, code);
    if (r.exchanged) {
      atomicStore(&errors.value, bitcast<u32>(value));
      atomicStore(&errors.axis, axis);
      atomicStore(&errors.size, size);
      break;
    }
    if (r.old_value != 0u) { break; }
  }
}`;

/** The error a read throws for a recorded finding (the reference backend's message). */
export function describeKernelError(e: KernelError): Error {
  const [bits, axis, size] = e.words;
  const value = new Float32Array(new Uint32Array([bits]).buffer)[0];
  const op = Object.entries(ERROR_CODES).find(([, code]) => code === e.code)?.[0];
  if (!op) return new Error(`webgpu backend: a kernel reported error code ${e.code}`);
  return new RangeError(`${op}: index ${value} out of range for axis ${axis} of size ${size}`);
}
