// The kernel seam: the few primitives a backend implements, and which backend runs them.
//
// Tensor ops never loop over data themselves: they call the active Backend with strided views.
// Broadcasting is expressed as stride 0, transposes and slices as strides and offsets, so most
// kernels see their inputs without copies. The plain-TS reference backend is the readable spec;
// fast backends are held to it by property tests.

/** Element storage. float32 always, except inside `withFloat64` (gradient checks, references). */
export type Storage = Float32Array | Float64Array;

/** A strided view of storage: element (i0, i1, …) is buffer[offset + Σ ik·strides[k]]. */
export interface View {
  readonly buffer: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export const UNARY_OPS = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "abs",
  "tanh",
  "erf",
  "sigmoid",
  "relu",
  "sin",
  "cos",
  "sign",
  "floor",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export type ReduceOp = "sum" | "max" | "min";

export interface Backend {
  readonly name: string;
  /** y = op(x), contiguous with x's shape. */
  unary(op: UnaryOp, x: View): Storage;
  /** op(a, b) where a and b have the same shape (broadcast already applied as stride 0). */
  binary(op: BinaryOp, a: View, b: View): Storage;
  /** cond != 0 ? a : b, all three of the same shape. */
  where(cond: View, a: View, b: View): Storage;
  /** Reduce over the given sorted axes; the output drops those axes, contiguous. */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage;
  /** [...batch, m, k] @ [...batch, k, n] (equal batch dims, possibly stride 0) → [...batch, m, n]. */
  matmul(a: View, b: View): Storage;
  /** A contiguous copy of a view. */
  copy(x: View): Storage;
  /** takeAlongAxis: out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis`; out has index's shape. */
  gather(x: View, index: View, axis: number): Storage;
  /** base + scatter of src along `axis` at `index` (index and src share a shape); repeated indices add. */
  scatterAdd(base: View, index: View, src: View, axis: number): Storage;
  /** Optional fused softmax along `axis`: exp(x - max) / Σ exp(x - max), contiguous with x's shape. */
  softmax?(x: View, axis: number): Storage;
}

// ---- Which backend runs, and in which precision ----

const registry = new Map<string, () => Backend>();
let active: Backend | undefined;
let fallback: Backend | undefined;
let float64Depth = 0;

/** Makes a backend selectable by name (backends register themselves when their module loads). */
export function registerBackend(name: string, make: () => Backend): void {
  registry.set(name, make);
}

export function availableBackends(): string[] {
  return [...registry.keys()];
}

/** Selects the backend that runs every op from now on. */
export function setBackend(name: string): Backend {
  const make = registry.get(name);
  if (!make) throw new Error(`setBackend: unknown backend "${name}" (available: ${availableBackends().join(", ")})`);
  active = make();
  return active;
}

/** The backend that runs ops now (float64 work always runs on the reference backend). */
export function backend(): Backend {
  if (float64Depth > 0) return referenceBackend();
  if (!active) active = setBackend(defaultBackendName);
  return active;
}

let defaultBackendName = "reference";
/** @internal The backend chosen when none was set (the fastest one that loaded). */
export function setDefaultBackend(name: string): void {
  defaultBackendName = name;
}

export function referenceBackend(): Backend {
  if (!fallback) {
    const make = registry.get("reference");
    if (!make) throw new Error("the reference backend is not registered");
    fallback = make();
  }
  return fallback;
}

/** Runs `fn` with every new tensor stored in float64 (for gradient checks and reference values). */
export function withFloat64<T>(fn: () => T): T {
  float64Depth++;
  try {
    return fn();
  } finally {
    float64Depth--;
  }
}

export function isFloat64(): boolean {
  return float64Depth > 0;
}

/** New zeroed storage in the current precision. */
export function allocStorage(n: number): Storage {
  return float64Depth > 0 ? new Float64Array(n) : new Float32Array(n);
}
