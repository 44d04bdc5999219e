// The kernel seam: where tensors live and the kernels that compute on them.
//
// A backend owns storage — host arrays (reference), the shared WebAssembly memory (cpu), GPU
// buffers (gpu.js WebGPU) — and tensors refer to it through an opaque `Storage` handle. Ops never
// loop over data: they allocate an output on the inputs' backend and launch a kernel that writes
// into it. Kernels are dispatched synchronously and never read anything back, so a device whose
// reads are asynchronous fits the same seam: reading is `read()` everywhere, `readSync()` where the
// backend can. Broadcasting is stride 0, transposes and slices are strides and offsets, so kernels
// see their inputs in place. The plain-TS reference backend is the readable spec; every fast
// backend is held to it by property tests.

/** Element types. float64 is for gradient checks and reference values; not every backend has it. */
export type DType = "float32" | "float64";

/** Backend-owned storage of `size` elements; what is behind it is the backend's business. */
export interface Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  readonly size: number;
}

/** A strided view: element (i0, i1, …) is storage[offset + Σ ik·strides[k]]. */
export interface View {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Where a kernel writes a contiguous row-major result: storage[offset …]. */
export interface Target {
  readonly storage: Storage;
  readonly offset: number;
}

// ---- Elementwise programs: the one kernel behind every map, zip, select and fused chain ----

export const UNARY_OPS = [
  "identity",
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
  "gelu", //           x·Φ(x), exact (Φ the standard normal CDF)
  "geluDerivative", // Φ(x) + x·φ(x), the slope of gelu
] as const; // prettier-ignore
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
] as const; // prettier-ignore
export type BinaryOp = (typeof BINARY_OPS)[number];

/**
 * One instruction of an elementwise program; its result is register `i` (its own index). Registers
 * hold one element's value; comparisons give 1 or 0; `where` takes x where cond ≠ 0, else y.
 */
export type Instruction =
  | { readonly op: "input"; readonly index: number }
  | { readonly op: "const"; readonly value: number }
  | { readonly op: UnaryOp; readonly x: number }
  | { readonly op: BinaryOp; readonly x: number; readonly y: number }
  | { readonly op: "where"; readonly cond: number; readonly x: number; readonly y: number };

/** Straight-line code over one element; `outputs` lists the registers written out, in order. */
export interface Program {
  readonly code: readonly Instruction[];
  readonly outputs: readonly number[];
}

export type ReduceOp = "sum" | "max" | "min";

export type Distribution =
  | { readonly kind: "uniform"; readonly low: number; readonly high: number } //     low + (high-low)·u, u in [0, 1)
  | { readonly kind: "normal"; readonly mean: number; readonly std: number }
  | { readonly kind: "truncatedNormal"; readonly lower: number; readonly upper: number; readonly std: number }
  | { readonly kind: "bernoulli"; readonly p: number }; //                          1 with probability p, else 0

/** A PRNG key's two words (src/core/prng.ts). */
export interface KeyWords {
  readonly hi: number;
  readonly lo: number;
}

/**
 * What a backend implements. Every kernel writes its full output; outputs never overlap inputs
 * unless stated. Shapes and axes arrive validated by the ops. Unless a kernel says otherwise it
 * computes in the precision of its output (float32 kernels may use float64 internally).
 */
export interface Backend {
  readonly name: string;
  /** The dtypes it stores and computes; a tensor of another dtype cannot live here. */
  readonly dtypes: readonly DType[];
  /** Whether `readSync` works (false on GPUs: use `read`). */
  readonly canReadSync: boolean;
  /** What it runs on, for "backend in use" lines (a GPU's adapter); optional. */
  readonly description?: string;

  // ---- Storage ----
  /** New storage; its contents are unspecified until a kernel writes them. */
  alloc(size: number, dtype: DType): Storage;
  /** New storage holding a copy of `values` (converted to `dtype`). */
  upload(values: ArrayLike<number>, dtype: DType): Storage;
  /** The view's elements in row-major order, as a fresh host array of the storage's dtype. */
  readSync(x: View): Float32Array | Float64Array;
  read(x: View): Promise<Float32Array | Float64Array>;
  /**
   * Gives storage back now (compiled plans do this by liveness). Storage that is never freed is
   * reclaimed once nothing refers to it; using freed storage is an error the backend may not detect.
   */
  free(s: Storage): void;

  // ---- Kernels ----
  /**
   * Runs `program` once per element of `shape`: input k is read from `inputs[k]` (a view of that
   * shape; broadcasting is stride 0), and output j is written to `outputs[j]` (views of that shape,
   * possibly strided — concat and slice adjoints write into parts of a buffer).
   */
  elementwise(program: Program, inputs: readonly View[], shape: readonly number[], outputs: readonly View[]): void;
  /** Reduces over the sorted `axes`; out is contiguous with those axes dropped. Empty sums are 0. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void;
  /** [...batch, m, k] @ [...batch, k, n] → [...batch, m, n]; equal batch dims (stride 0 broadcasts). */
  matmul(a: View, b: View, out: Target): void;
  /** out[…, i, …] = x[…, index[…, i, …], …] along `axis`; out has index's shape (indices are exact integers). */
  gather(x: View, index: View, axis: number, out: Target): void;
  /** out = base, then out[…, index[…, i, …], …] += src[…, i, …] along `axis` (repeats add up). */
  scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void;
  /** Indices (as numbers) that sort each line along `axis`: stable, NaN last; descending flips the order of values. */
  argsort(x: View, axis: number, descending: boolean, out: Target): void;
  /** Index of the largest value along `axis` (the first on ties; the first NaN if any). */
  argmax(x: View, axis: number, out: Target): void;
  /** softmax over the last axis: y = e^(x−max) / Σ e^(x−max). */
  softmax(x: View, out: Target): void;
  /** dx = y ⊙ (dy − Σ(dy ⊙ y)) over the last axis. */
  softmaxBackward(y: View, dy: View, out: Target): void;
  /**
   * Layer norm over the last axis (biased variance, eps inside the root): out = x̂·w + b with
   * x̂ = (x − μ)·r, r = 1/√(σ² + eps); writes μ and r per row (float32 or float64 like out).
   */
  layerNorm(x: View, weight: View, bias: View, eps: number, out: Target, mean: Target, rstd: Target): void;
  /** With g = dy·w: dx = r·(g − mean(g) − x̂·mean(g·x̂)); dw = Σ dy·x̂; db = Σ dy (sums over rows). */
  layerNormBackward(
    dy: View,
    x: View,
    weight: View,
    mean: View,
    rstd: View,
    dx: Target | null,
    dweight: Target | null,
    dbias: Target | null,
  ): void;
  /** `size` draws from `dist` under `key`, element i from counter i (src/core/prng.ts, the spec). */
  random(dist: Distribution, key: KeyWords, size: number, out: Target): void;
  /** Waits until every kernel launched so far has finished (GPUs); a no-op where kernels are synchronous. */
  flush?(): Promise<void>;
}

// ---- Which backend new tensors go to ----

const registry = new Map<string, () => Backend>();
const preparers = new Map<string, () => Promise<void>>();
const instances = new Map<string, Backend>();
let defaultName = "reference";
let chosen: string | undefined;

/**
 * Makes a backend selectable by name (backends register themselves when their module loads).
 * `prepare` is for backends that need an asynchronous start (a WebGPU device is acquired with
 * await): `loadBackend` runs it once, and until then `make` may refuse saying so.
 */
export function registerBackend(name: string, make: () => Backend, prepare?: () => Promise<void>): void {
  registry.set(name, make);
  if (prepare) preparers.set(name, prepare);
}

/**
 * The backend registered under `name`, once it is ready: works for every backend, and is the way
 * to start one whose device is acquired asynchronously (`await T.loadBackend("gpujs:webgpu")`).
 * Rejects with the reason when the backend cannot run here.
 */
export async function loadBackend(name: string): Promise<Backend> {
  if (!registry.has(name)) throw new Error(`unknown backend "${name}" (available: ${availableBackends().join(", ")})`);
  await preparers.get(name)?.();
  return getBackend(name);
}

export function availableBackends(): string[] {
  return [...registry.keys()];
}

/** The backend registered under `name` (created once). */
export function getBackend(name: string): Backend {
  let b = instances.get(name);
  if (!b) {
    const make = registry.get(name);
    if (!make) throw new Error(`unknown backend "${name}" (available: ${availableBackends().join(", ")})`);
    b = make();
    instances.set(name, b);
  }
  return b;
}

/**
 * Chooses where tensors made from now on live (creation functions, random, fromArray). Ops run on
 * the backend of their inputs, wherever that is.
 */
export function setBackend(name: string): Backend {
  const b = getBackend(name);
  chosen = b.name;
  return b;
}

/** The backend new tensors go to. */
export function backend(): Backend {
  return getBackend(chosen ?? defaultName);
}

/** @internal The backend chosen when none was set (the fastest one that loaded). */
export function setDefaultBackend(name: string): void {
  defaultName = name;
}

export const referenceBackend = (): Backend => getBackend("reference");

// ---- The dtype new tensors get ----

let float64Depth = 0;

/** Runs `fn` with float64 as the dtype of tensors it creates (gradient checks, reference values). */
export function withFloat64<T>(fn: () => T): T {
  float64Depth++;
  try {
    return fn();
  } finally {
    float64Depth--;
  }
}

/** The dtype creation functions use when none is given. */
export function defaultDtype(): DType {
  return float64Depth > 0 ? "float64" : "float32";
}
