// Tracing a function into a graph: its tensor arguments become placeholders (TracedStorage), its
// key arguments stand-in keys, and every op on them is recorded as an Equation instead of run.

import type { Backend, DType } from "../core/backend.ts";
import { Key, setKeyTracer, type Derivation } from "../core/prng.ts";
import { TracedStorage, withRecorder, type Equation, type Recorder } from "../core/recorder.ts";
import { Tensor } from "../core/tensor.ts";

/** How a stand-in key is made: an argument (by index among key arguments) or derived from another. */
export type KeySource =
  | { readonly kind: "argument"; readonly index: number }
  | { readonly kind: "derived"; readonly parent: number; readonly how: Derivation };

export interface Trace {
  readonly equations: Equation[];
  /** Stand-in keys by placeholder id, in creation order (a parent before its children). */
  readonly keys: KeySource[];
}

/** Records ops while `fn` runs over placeholder tensors and keys; returns its result and the trace. */
export function traceFunction<R>(
  fn: (placeholders: { tensor: (t: Tensor) => Tensor; key: (index: number) => Key }) => R,
): [R, Trace] {
  const trace: Trace = { equations: [], keys: [] };
  let nextStorage = 1;
  const recorder: Recorder = {
    storage: (backend: Backend, dtype: DType, size: number) => new TracedStorage(backend, dtype, size, nextStorage++),
    record: (eq: Equation) => trace.equations.push(eq),
  };
  const newKey = (source: KeySource) => {
    trace.keys.push(source);
    return Key.placeholder(trace.keys.length - 1);
  };
  const outerTracer = setKeyTracer((parent, how) => newKey({ kind: "derived", parent: parent.placeholder!, how }));
  try {
    const result = withRecorder(recorder, () =>
      fn({
        // A placeholder with the argument's layout over storage of the same size.
        tensor: (t) => new Tensor(recorder.storage(t.backend, t.dtype, t.storage.size), t.shape, t.strides, t.offset),
        key: (index) => newKey({ kind: "argument", index }),
      }),
    );
    return [result, trace];
  } finally {
    setKeyTracer(outerTracer);
  }
}
