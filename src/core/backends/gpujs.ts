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
  registerBackend,
  type Backend,
  type Distribution,
  type DType,
  type KeyWords,
  type Program,
  type ReduceOp,
  type Storage,
  type Target,
  type View,
} from "../backend.ts";
import { isContiguous } from "../shape.ts";
import { checkIndices } from "./hostKernels.ts";
import { hostData, HostStorage, newHostArray, referenceBackend } from "./reference.ts";
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
    // gpu.js's webgpu kernels return Promises and write buffers of their own: the resident
    // "gpujs:webgpu" backend (webgpu/webgpuBackend.ts) is registered under that name instead.
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

/** The window of a view's storage that it reaches, and the view as an Operand into that window. */
function reach(name: string, v: View): { arg: Float32Array; operand: Operand } {
  let lo = v.offset;
  let hi = v.offset;
  v.shape.forEach((n, d) => {
    const span = (n - 1) * v.strides[d];
    if (span < 0) lo += span;
    else hi += span;
  });
  return {
    arg: (hostData(v.storage) as Float32Array).subarray(lo, hi + 1),
    operand: { name, strides: v.strides, base: v.offset - lo },
  };
}

/** gpu.js returns a fresh 1-, 2- or 3-d array of rows; copies the n cells into `out` at `at`. */
function copyOut(result: unknown, n: number, out: Float32Array, at: number): void {
  if (result instanceof Float32Array && result.length === n) {
    out.set(result, at);
    return;
  }
  let o = at;
  const walk = (r: unknown) => {
    if (r instanceof Float32Array) {
      out.set(r.subarray(0, Math.min(r.length, at + n - o)), o);
      o += r.length;
    } else for (const row of r as unknown[]) walk(row);
  };
  walk(result);
  if (o - at !== n) throw new Error(`gpu.js backend: a kernel returned ${o - at} values where ${n} were expected`);
}

/** A one-instruction program as a gpu.js map body over operands a, b, c (constants as 1-cell inputs). */
function singleInstruction(program: Program): { body: string; regs: number[] } | undefined {
  if (program.outputs.length !== 1 || program.outputs[0] !== program.code.length - 1) return undefined;
  const ins = program.code[program.code.length - 1];
  const one = ((): { body: string; regs: number[] } | undefined => {
    switch (ins.op) {
      case "input":
      case "const":
        return undefined;
      case "where":
        return { body: WHERE_BODY, regs: [ins.cond, ins.x, ins.y] };
      default:
        if ("y" in ins) return { body: BINARY_BODIES[ins.op], regs: [ins.x, ins.y] };
        return ins.op in UNARY_BODIES
          ? { body: UNARY_BODIES[ins.op as keyof typeof UNARY_BODIES], regs: [ins.x] }
          : undefined;
    }
  })();
  // A fused program (jit) ends in an op over earlier results: not one instruction over the inputs.
  const leaf = (r: number) => program.code[r].op === "input" || program.code[r].op === "const";
  return one?.regs.every(leaf) ? one : undefined;
}

/**
 * gpu.js kernels over host arrays: each op uploads its inputs and reads its output back (the
 * storage is host memory). What no kernel covers runs the reference loops on the same arrays.
 */
export class GpujsBackend implements Backend {
  readonly name: string;
  readonly dtypes = ["float32"] as const;
  readonly canReadSync = true;
  private readonly gpu: GPU;
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly reference = referenceBackend;

  constructor(readonly mode: GpujsMode) {
    this.name = `gpujs:${mode}`;
    this.gpu = new GPU({ mode });
  }

  alloc(n: number, dtype: DType): Storage {
    return new HostStorage(this, newHostArray(n, dtype));
  }
  upload(values: ArrayLike<number>, dtype: DType): Storage {
    const s = this.alloc(values.length, dtype);
    hostData(s).set(values);
    return s;
  }
  readSync(x: View): Float32Array | Float64Array {
    return this.reference.readSync(x);
  }
  async read(x: View): Promise<Float32Array | Float64Array> {
    return this.readSync(x);
  }
  free(): void {}

  /** Runs a kernel (compiled on first use) and copies its n cells into the target. */
  private run(spec: KernelSpec, args: Float32Array[], n: number, out: Target): void {
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
    copyOut(k(...args), n, hostData(out.storage) as Float32Array, out.offset);
  }

  elementwise(program: Program, inputs: readonly View[], shape: readonly number[], outputs: readonly View[]): void {
    const n = size(shape);
    const one = singleInstruction(program);
    const out = outputs[0];
    if (n === 0) return;
    if (one && outputs.length === 1 && isContiguous({ shape, strides: out.strides })) {
      const views = one.regs.map((r): View => {
        const ins = program.code[r];
        if (ins.op === "input") return inputs[ins.index];
        if (ins.op === "const")
          return { storage: this.upload([ins.value], "float32"), shape, strides: shape.map(() => 0), offset: 0 };
        throw new Error("unreachable: operands of a one-instruction program are inputs or constants");
      });
      const ws = views.map((v, i) => reach(`x${i}`, v));
      const names = one.body === WHERE_BODY ? ["c", "a", "b"] : ["a", "b", "c"];
      const spec = mapKernel(
        shape,
        ws.map((w, i) => ({ ...w.operand, as: names[i] })),
        one.body,
      );
      if (spec) {
        this.run(
          spec,
          ws.map((w) => w.arg),
          n,
          out,
        );
        return;
      }
    }
    this.reference.elementwise(program, inputs, shape, outputs);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
    const n = size(x.shape.filter((_, d) => !axes.includes(d)));
    const r = size(axes.map((d) => x.shape[d]));
    if (n === 0 || r === 0) {
      this.reference.reduce(op, x, axes, out);
      return;
    }
    const w = reach("x", x);
    const spec = reduceKernel(op, x.shape, w.operand, axes);
    if (spec) this.run(spec, [w.arg], n, out);
    else this.reference.reduce(op, x, axes, out);
  }

  matmul(a: View, b: View, out: Target): void {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const batch = a.shape.slice(0, -2);
    const cells = size(batch) * m * n;
    if (cells === 0 || k === 0) {
      this.reference.matmul(a, b, out);
      return;
    }
    const wa = reach("a", a);
    const wb = reach("b", b);
    const spec = matmulKernel(batch, [m, k, n], wa.operand, wb.operand);
    if (spec) this.run(spec, [wa.arg, wb.arg], cells, out);
    else this.reference.matmul(a, b, out);
  }

  gather(x: View, index: View, axis: number, out: Target): void {
    const n = size(index.shape);
    if (n === 0) return;
    checkIndices("takeAlongAxis", this.readSync(index), axis, x.shape[axis]);
    const wx = reach("x", x);
    const wi = reach("index", index);
    const spec = gatherKernel(index.shape, wx.operand, wi.operand, axis);
    if (spec) this.run(spec, [wx.arg, wi.arg], n, out);
    else this.reference.gather(x, index, axis, out);
  }

  /** exp(x - max) / Σ exp(x - max) along the last axis. */
  softmax(x: View, out: Target): void {
    const n = size(x.shape);
    const axis = x.shape.length - 1;
    if (n === 0) return;
    const w = reach("x", x);
    const specs = softmaxKernels(x.shape, w.operand, axis, "stats");
    if (!specs) {
      this.reference.softmax(x, out);
      return;
    }
    const rows = n / x.shape[axis];
    const stats = this.alloc(rows * 2, "float32");
    this.run(specs.stats, [w.arg], rows * 2, { storage: stats, offset: 0 });
    this.run(specs.normalize, [w.arg, hostData(stats) as Float32Array], n, out);
  }

  // No gpu.js kernel for these (a scatter with repeated indices would cost one pass per index).
  scatterAdd = (base: View, index: View, src: View, axis: number, out: Target) =>
    this.reference.scatterAdd(base, index, src, axis, out);
  argsort = (x: View, axis: number, descending: boolean, out: Target) =>
    this.reference.argsort(x, axis, descending, out);
  argmax = (x: View, axis: number, out: Target) => this.reference.argmax(x, axis, out);
  softmaxBackward = (y: View, dy: View, out: Target) => this.reference.softmaxBackward(y, dy, out);
  layerNorm = (x: View, w: View, b: View, eps: number, out: Target, mean: Target, rstd: Target) =>
    this.reference.layerNorm(x, w, b, eps, out, mean, rstd);
  layerNormBackward = (...args: Parameters<Backend["layerNormBackward"]>) => this.reference.layerNormBackward(...args);
  random = (dist: Distribution, key: KeyWords, n: number, out: Target) => this.reference.random(dist, key, n, out);
}

registerBackend("gpujs", () => gpujsBackend("best"));
// webgpu and webgl2 have resident backends of their own (webgpu/, webgl2/) under those names.
for (const mode of GPUJS_MODES)
  if (mode !== "webgpu" && mode !== "webgl2") registerBackend(`gpujs:${mode}`, () => gpujsBackend(mode));
