// The gpu.js backend: each op runs as one gpu.js kernel (sources in gpujsKernels.ts) in a selectable
// gpu.js mode, held to backends/reference.ts by test/core/gpujs.test.ts.
//
// Views go in as flat Float32Array windows (just the elements a view reaches) with their strides
// baked into the kernel source; kernels compile once per (op, shape signature) and are cached.
// Results come back as Float32Array (no pipelining: every op reads back). Float64 storage and the
// few cases no kernel covers run on the reference backend: scatterAdd always (gpu.js kernels can
// only gather, so a scatter with repeated indices would cost one pass per index), plus any shape a
// float32 thread id cannot address (a dim over 2^23 with no factor below it).
// NaN and ±Infinity follow the reference in cpu and webasm mode (tested). The GL modes cannot be
// tested here: GLSL need not honour NaN comparisons, and it addresses inputs in float32 (exact only
// up to 2^24 elements).

import { GPU, type IKernelRunShortcut } from "gpu.js";
import {
  backend,
  referenceBackend,
  registerBackend,
  type Backend,
  type BinaryOp,
  type ReduceOp,
  type Storage,
  type UnaryOp,
  type View,
} from "../backend.ts";
import { isContiguous } from "./reference.ts";
import {
  BINARY_BODIES,
  gatherKernel,
  mapKernel,
  matmulKernel,
  reduceKernel,
  softmaxKernels,
  UNARY_BODIES,
  WHERE_BODY,
  type KernelSpec,
  type Operand,
} from "./gpujsKernels.ts";

export const GPUJS_MODES = ["cpu", "webasm", "gpu", "webgl", "webgl2", "headlessgl", "webgpu"] as const;
export type GpujsMode = (typeof GPUJS_MODES)[number];

/** gpu.js's own preference order; "gpu" means the first GL mode that works. */
const BEST_FIRST: readonly GpujsMode[] = ["headlessgl", "webgl2", "webgl", "webasm", "cpu"];

/** Whether a gpu.js mode can run this backend here. */
export function isGpujsModeAvailable(mode: GpujsMode): boolean {
  switch (mode) {
    case "cpu":
      return true;
    case "webasm":
      return GPU.isWebAssemblySupported;
    case "webgl":
      return GPU.isWebGLSupported;
    case "webgl2":
      return GPU.isWebGL2Supported;
    case "headlessgl":
      return GPU.isHeadlessGLSupported;
    // gpu.js's own "gpu" mode would quietly settle for webasm; here it means a real GL context.
    case "gpu":
      return GPU.isHeadlessGLSupported || GPU.isWebGL2Supported || GPU.isWebGLSupported;
    // webgpu kernels return Promises, and Backend ops are synchronous.
    case "webgpu":
      return false;
  }
}

/** The fastest available mode (headlessgl → webgl2 → webgl → webasm → cpu). */
export function bestGpujsMode(): GpujsMode {
  return BEST_FIRST.find(isGpujsModeAvailable) ?? "cpu";
}

/** The gpu.js mode of the active backend; undefined when that is not gpu.js (or inside withFloat64, where the reference runs). */
export function gpujsMode(): GpujsMode | undefined {
  const b = backend();
  return b instanceof GpujsBackend ? b.mode : undefined;
}

const instances = new Map<GpujsMode, GpujsBackend>();

/** The backend for `mode` ("best": bestGpujsMode()); an unavailable mode falls back to the best one with one warning line. */
export function gpujsBackend(mode: GpujsMode | "best"): GpujsBackend {
  let use = mode === "best" ? bestGpujsMode() : mode;
  if (!isGpujsModeAvailable(use)) {
    const best = bestGpujsMode();
    console.warn(`gpu.js mode "${use}" is not available here; using "${best}"`);
    use = best;
  }
  if (use === "gpu") use = bestGpujsMode(); // a GL mode, as "gpu" is available
  const b = instances.get(use) ?? new GpujsBackend(use);
  instances.set(use, b);
  return b;
}

/** Compiled kernels kept per backend; least recently used ones are destroyed beyond this. */
const MAX_KERNELS = 512;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The window of a view's buffer that it reaches, and the view as an Operand into that window. */
function reach(name: string, v: View): { arg: Float32Array; operand: Operand } {
  let lo = v.offset;
  let hi = v.offset;
  v.shape.forEach((n, d) => {
    const span = (n - 1) * v.strides[d];
    if (span < 0) lo += span;
    else hi += span;
  });
  return {
    arg: (v.buffer as Float32Array).subarray(lo, hi + 1),
    operand: { name, strides: v.strides, base: v.offset - lo },
  };
}

const allFloat32 = (...views: View[]) => views.every((v) => v.buffer instanceof Float32Array);

/** gpu.js returns a fresh 1-, 2- or 3-d array of rows; the n cells as one flat Float32Array. */
function flatten(result: unknown, n: number): Float32Array {
  if (result instanceof Float32Array && result.length === n) return result;
  const rows: Float32Array[] = [];
  const walk = (r: unknown) => {
    if (r instanceof Float32Array) rows.push(r);
    else for (const row of r as unknown[]) walk(row);
  };
  walk(result);
  // webasm's rows are consecutive views of one buffer holding exactly the n cells: use it as is.
  const buffer = rows[0].buffer;
  let at = 0;
  for (const row of rows) at = row.buffer === buffer && row.byteOffset === at ? at + row.byteLength : NaN;
  if (at === n * 4 && buffer.byteLength === at) return new Float32Array(buffer);
  const out = new Float32Array(n);
  let o = 0;
  for (const row of rows) {
    out.set(row, o);
    o += row.length;
  }
  if (o !== n) throw new Error(`gpu.js backend: a kernel returned ${o} values where ${n} were expected`);
  return out;
}

export class GpujsBackend implements Backend {
  readonly name: string;
  private readonly gpu: GPU;
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly reference = referenceBackend();

  constructor(readonly mode: GpujsMode) {
    this.name = `gpujs:${mode}`;
    this.gpu = new GPU({ mode });
  }

  /** Runs a kernel (compiled on first use) and reads its n cells back. */
  private run(spec: KernelSpec, args: Float32Array[], n: number): Float32Array {
    // Argument lengths are part of the key: gpu.js sizes a compiled kernel's inputs.
    const key = `${spec.source}\n@${spec.output.join("x")}:${args.map((a) => a.length).join(",")}`;
    let k = this.kernels.get(key);
    if (k) this.kernels.delete(key);
    else {
      k = this.gpu.createKernel(spec.source, {
        output: [...spec.output],
        pipeline: false,
        precision: "single",
        tactic: "precision",
      });
      if (this.kernels.size >= MAX_KERNELS) {
        const [oldest, evicted] = this.kernels.entries().next().value!;
        this.kernels.delete(oldest);
        evicted.destroy();
      }
    }
    this.kernels.set(key, k);
    return flatten(k(...args), n);
  }

  /** Elementwise map over views of one shape, loaded into values a, b, c. */
  private map(views: View[], body: string, names = ["a", "b", "c"]): Storage | undefined {
    const n = size(views[0].shape);
    if (n === 0) return new Float32Array(0);
    const ws = views.map((v, i) => reach(`x${i}`, v));
    const spec = mapKernel(
      views[0].shape,
      ws.map((w, i) => ({ ...w.operand, as: names[i] })),
      body,
    );
    return (
      spec &&
      this.run(
        spec,
        ws.map((w) => w.arg),
        n,
      )
    );
  }

  unary(op: UnaryOp, x: View): Storage {
    return (allFloat32(x) && this.map([x], UNARY_BODIES[op])) || this.reference.unary(op, x);
  }

  binary(op: BinaryOp, a: View, b: View): Storage {
    return (allFloat32(a, b) && this.map([a, b], BINARY_BODIES[op])) || this.reference.binary(op, a, b);
  }

  where(cond: View, a: View, b: View): Storage {
    return (
      (allFloat32(cond, a, b) && this.map([cond, a, b], WHERE_BODY, ["c", "a", "b"])) ||
      this.reference.where(cond, a, b)
    );
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    const n = size(x.shape.filter((_, d) => !axes.includes(d)));
    const r = size(axes.map((d) => x.shape[d]));
    if (!allFloat32(x)) return this.reference.reduce(op, x, axes);
    if (n === 0 || r === 0) return new Float32Array(n).fill(op === "sum" ? 0 : op === "max" ? -Infinity : Infinity);
    const w = reach("x", x);
    const spec = reduceKernel(op, x.shape, w.operand, axes);
    return spec ? this.run(spec, [w.arg], n) : this.reference.reduce(op, x, axes);
  }

  matmul(a: View, b: View): Storage {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const batch = a.shape.slice(0, -2);
    const cells = size(batch) * m * n;
    if (!allFloat32(a, b)) return this.reference.matmul(a, b);
    if (cells === 0 || k === 0) return new Float32Array(cells);
    const wa = reach("a", a);
    const wb = reach("b", b);
    const spec = matmulKernel(batch, [m, k, n], wa.operand, wb.operand);
    return spec ? this.run(spec, [wa.arg, wb.arg], cells) : this.reference.matmul(a, b);
  }

  copy(x: View): Storage {
    // A contiguous view is one slice; only strided ones need a kernel.
    if (allFloat32(x) && isContiguous(x)) return x.buffer.slice(x.offset, x.offset + size(x.shape));
    return (allFloat32(x) && this.map([x], "return a;")) || this.reference.copy(x);
  }

  gather(x: View, index: View, axis: number): Storage {
    const n = size(index.shape);
    if (!allFloat32(x, index)) return this.reference.gather(x, index, axis);
    if (n === 0) return new Float32Array(0);
    const wx = reach("x", x);
    const wi = reach("index", index);
    const spec = gatherKernel(index.shape, wx.operand, wi.operand, axis);
    return spec ? this.run(spec, [wx.arg, wi.arg], n) : this.reference.gather(x, index, axis);
  }

  scatterAdd(base: View, index: View, src: View, axis: number): Storage {
    return this.reference.scatterAdd(base, index, src, axis);
  }

  /** exp(x - max) / Σ exp(x - max) along `axis`, contiguous with x's shape. */
  softmax(x: View, axis: number): Storage {
    const n = size(x.shape);
    if (!allFloat32(x)) return softmaxByPrimitives(this.reference, x, axis);
    if (n === 0) return new Float32Array(0);
    const w = reach("x", x);
    const specs = softmaxKernels(x.shape, w.operand, axis, "stats");
    if (!specs) return softmaxByPrimitives(this.reference, x, axis);
    const stats = this.run(specs.stats, [w.arg], (n / x.shape[axis]) * 2);
    return this.run(specs.normalize, [w.arg, stats], n);
  }
}

/** Softmax composed of a backend's primitives, as ops/activations.ts composes it (the fallback and the tests' reference). */
export function softmaxByPrimitives(b: Backend, x: View, axis: number): Storage {
  const contiguous = (shape: readonly number[], buffer: Storage): View => {
    const strides = shape.map((_, d) => size(shape.slice(d + 1)));
    return { buffer, shape, strides, offset: 0 };
  };
  // max and sum along the axis, broadcast back over it as stride 0
  const along = (buffer: Storage): View => {
    const kept = contiguous(
      x.shape.filter((_, d) => d !== axis),
      buffer,
    );
    const strides = x.shape.map((_, d) => (d === axis ? 0 : kept.strides[d < axis ? d : d - 1]));
    return { buffer, shape: x.shape, strides, offset: 0 };
  };
  const e = contiguous(
    x.shape,
    b.unary("exp", contiguous(x.shape, b.binary("sub", x, along(b.reduce("max", x, [axis]))))),
  );
  return b.binary("div", e, along(b.reduce("sum", e, [axis])));
}

registerBackend("gpujs", () => gpujsBackend("best"));
for (const mode of GPUJS_MODES) registerBackend(`gpujs:${mode}`, () => gpujsBackend(mode));
