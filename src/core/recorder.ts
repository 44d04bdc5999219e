// The hook `jit` traces through: while a recorder is installed, ops on traced storage (and the
// creation of filled tensors) append an Equation instead of launching a kernel. Ops are written
// once; whether they run now or become a step of a compiled plan is decided here.

import type { Backend, DType, KeyWords, Program, Storage, View } from "./backend.ts";
import type { Key } from "./prng.ts";

/** Storage that exists only in a trace: a placeholder the compiled plan later gives a place. */
export class TracedStorage implements Storage {
  constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly size: number,
    readonly id: number,
  ) {}
}

/** What a kernel launch needs besides its views: the values of PRNG keys that are jit inputs. */
export interface LaunchEnv {
  keyWords(k: Key): KeyWords;
}

/** Launches one op's kernel: reads `inputs`, writes `outputs` (contiguous unless elementwise). */
export type Launch = (be: Backend, inputs: readonly View[], outputs: readonly View[], env: LaunchEnv) => void;

/** One recorded op. */
export interface Equation {
  readonly op: string;
  readonly inputs: readonly View[];
  readonly outputs: readonly View[];
  readonly launch: Launch;
  /** Set for elementwise ops: the program the launch runs (so chains can be fused). */
  readonly program?: Program;
}

export interface Recorder {
  /** Storage for an op's output inside the trace. */
  storage(backend: Backend, dtype: DType, size: number): TracedStorage;
  record(eq: Equation): void;
}

let current: Recorder | undefined;

/** The recorder of the trace being built, if any. */
export const activeRecorder = (): Recorder | undefined => current;

/** Runs `fn` with `r` recording every op on traced storage. */
export function withRecorder<T>(r: Recorder, fn: () => T): T {
  const outer = current;
  current = r;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

/** Eager launches: keys are concrete. */
export const EAGER_ENV: LaunchEnv = { keyWords: (k) => ({ hi: k.hi, lo: k.lo }) };
