// The WebGL2 backend ("gpujs:webgl2") for browsers without WebGPU: tensors resident in GPU textures
// (textureStorage.ts), every kernel a gpu.js kernel in webgl2 mode with `pipeline: true` (its output
// stays a texture; `immutable`, so each call gets a new one). Held to backends/reference.ts by the
// conformance checks in the browser (test/core/webgpu.test.ts runs both GPU backends).
//
// WebGL2 reads synchronously (readPixels), so `readSync` works — at the cost of a stall. Kernels
// gpu.js cannot express well run on the host over read-back values and upload their result: correct,
// slower, and rare in a training step — scatterAdd (gpu.js kernels only gather; the scatter's
// repeated indices would need a pass per index), argsort, random draws (Threefry needs 32-bit
// integer arithmetic), and views that span several kernels' outputs or write through strides.

import { GPU, type IKernelRunShortcut } from "gpu.js";
import {
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
} from "../../backend.ts";
import { isContiguous } from "../../shape.ts";
import { checkIndices, forEachIndex } from "../hostKernels.ts";
import {
  gatherKernel,
  matmulKernel,
  mapKernel,
  reduceKernel,
  softmaxKernels,
  type KernelSpec,
  type Operand,
} from "../gpujsKernels.ts";
import { HostStorage, referenceBackend } from "../reference.ts";
import { TextureStorage, type GlTexture } from "./textureStorage.ts";
import {
  argmaxKernel,
  columnSumKernel,
  programKernel,
  rowDotKernel,
  rowStatsKernel,
  SPECIALS,
  type ProgramSpec,
} from "./webgl2Kernels.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A gpu.js texture as this backend uses it. */
interface Texture extends GlTexture {
  toArray(): unknown;
  /** The texture's own dims [width, height], the kernel output it holds, and its gpu.js type. */
  readonly size: number[];
  readonly output: number[];
  readonly type: string;
}

/** Flattens what gpu.js returns (nested arrays of Float32Array rows) into `n` values. */
function flatten(result: unknown, n: number): Float32Array {
  if (result instanceof Float32Array) return result.length === n ? result : result.slice(0, n);
  const out = new Float32Array(n);
  let at = 0;
  const walk = (r: unknown) => {
    if (r instanceof Float32Array) {
      out.set(r.subarray(0, Math.min(r.length, n - at)), at);
      at += r.length;
    } else for (const row of r as unknown[]) walk(row);
  };
  walk(result);
  return out;
}

export class WebGl2Backend implements Backend {
  readonly name = "gpujs:webgl2";
  readonly dtypes = ["float32"] as const;
  readonly canReadSync = true;
  readonly description = "WebGL2 through gpu.js (textures)";
  private readonly gpu = new GPU({ mode: "webgl2" });
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly reference = referenceBackend;

  private checkDtype(dtype: DType, what: string): void {
    if (dtype !== "float32")
      throw new TypeError(`${this.name}: cannot ${what} a ${dtype} tensor; it stores float32 only`);
  }

  // ---- Storage ----

  alloc(n: number, dtype: DType): Storage {
    this.checkDtype(dtype, "allocate");
    return new TextureStorage(this, n);
  }
  upload(values: ArrayLike<number>, dtype: DType): Storage {
    this.checkDtype(dtype, "upload");
    const s = new TextureStorage(this, values.length);
    this.put(s, 0, values instanceof Float32Array ? values : Float32Array.from(values));
    return s;
  }
  free(s: Storage): void {
    if (s instanceof TextureStorage) s.clear();
  }
  readSync(x: View): Float32Array {
    const n = size(x.shape);
    const out = new Float32Array(n);
    if (n === 0) return out;
    const { data, base } = this.hostWindow(x);
    forEachIndex({ ...x, offset: x.offset - base }, (i, at) => (out[i] = data[at]));
    return out;
  }
  async read(x: View): Promise<Float32Array> {
    return this.readSync(x);
  }

  /** Host values of storage elements [lo, hi) of the view's reach, and lo. */
  private hostWindow(x: View): { data: Float32Array; base: number } {
    const [lo, hi] = reach(x);
    const s = this.storageOf(x);
    const seg = this.segment(s, lo, hi);
    const all = flatten((seg.texture as Texture).toArray(), seg.at + (hi - seg.offset));
    return { data: all.subarray(seg.at + (lo - seg.offset)), base: lo };
  }

  private storageOf(v: { storage: Storage }): TextureStorage {
    if (!(v.storage instanceof TextureStorage))
      throw new TypeError(`${this.name}: storage of backend "${v.storage.backend.name}" is not on this GPU`);
    return v.storage;
  }

  /** Uploads host values as elements [offset, offset + n) (a copy kernel over a Float32Array). */
  private put(s: TextureStorage, offset: number, values: Float32Array): void {
    if (values.length === 0) return;
    const spec: KernelSpec = { source: "function(v) { return v[this.thread.x]; }", output: [values.length] };
    s.write(offset, values.length, this.run(spec, [values]));
  }

  /** The segment holding [lo, hi): one kernel's output, or the range made one by a host round trip. */
  private segment(s: TextureStorage, lo: number, hi: number) {
    const found = s.covering(lo, hi);
    if (found) return found;
    const values = new Float32Array(hi - lo);
    for (const seg of s.segments) {
      const from = Math.max(lo, seg.offset);
      const to = Math.min(hi, seg.offset + seg.size);
      if (from >= to) continue;
      const data = flatten((seg.texture as Texture).toArray(), seg.at + (to - seg.offset));
      values.set(data.subarray(seg.at + (from - seg.offset), seg.at + (to - seg.offset)), from - lo);
    }
    this.put(s, lo, values);
    return s.covering(lo, hi)!;
  }

  /** A view as a kernel operand: its texture and its indexing into it. */
  private operand(name: string, v: View): { texture: Texture; operand: Operand } {
    const [lo, hi] = reach(v);
    const seg = this.segment(this.storageOf(v), lo, Math.max(hi, lo + 1));
    return {
      texture: seg.texture as Texture,
      operand: { name, strides: v.strides, base: seg.at + (v.offset - seg.offset) },
    };
  }

  /** Runs a kernel (compiled once per source, output and argument layouts); returns its output texture. */
  private run(spec: KernelSpec | ProgramSpec, args: (Texture | Float32Array)[]): Texture {
    // A compiled kernel is specialised to its arguments' types and texture layouts.
    const sizes = args.map((a) => (a instanceof Float32Array ? a.length : `${a.type}/${a.size}/${a.output}`));
    const key = `${spec.source}\n@${spec.output.join("x")}:${sizes.join(",")}`;
    let k = this.kernels.get(key);
    if (!k) {
      const extra = "functions" in spec ? { functions: [...spec.functions] } : {};
      k = this.gpu.createKernel(spec.source, {
        output: [...spec.output],
        pipeline: true,
        immutable: true,
        precision: "single",
        tactic: "precision",
        ...extra,
      } as Parameters<GPU["createKernel"]>[1]);
      this.kernels.set(key, k);
    }
    return (k as unknown as (...a: unknown[]) => Texture)(...args);
  }

  /** Writes a kernel's output (n cells, row-major over `shape`) to a view: directly when contiguous, else on the host. */
  private store(texture: Texture, n: number, out: View): void {
    const s = this.storageOf(out);
    if (isContiguous(out)) {
      s.write(out.offset, n, texture);
      return;
    }
    const values = flatten(texture.toArray(), n);
    texture.delete();
    const [lo, hi] = reach(out);
    const { data } = this.hostWindow({ ...out, storage: s }); // the region's current values
    const region = Float32Array.from(data.subarray(0, hi - lo));
    forEachIndex({ ...out, offset: out.offset - lo }, (i, at) => (region[at] = values[i]));
    this.put(s, lo, region);
  }

  /** Runs a spec over operands and writes its n outputs at the target. */
  private kernelTo(spec: KernelSpec, textures: Texture[], n: number, out: Target): void {
    const t = this.run(spec, textures);
    this.storageOf(out).write(out.offset, n, t);
  }

  // ---- Kernels ----

  elementwise(program: Program, inputs: readonly View[], shape: readonly number[], outputs: readonly View[]): void {
    const n = size(shape);
    if (n === 0) return;
    const ops = inputs.map((v, k) => this.operand(`x${k}`, v));
    program.outputs.forEach((reg, j) => {
      const spec = programKernel(
        shape,
        ops.map((o) => o.operand),
        program,
        reg,
      );
      if (!spec) throw new RangeError(`${this.name}: shape [${shape}] has a dim no gpu.js thread grid addresses`);
      const args: (Texture | Float32Array)[] = ops.map((o) => o.texture);
      this.store(this.run(spec, spec.specials ? [...args, SPECIALS] : args), n, outputs[j]);
    });
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
    const n = size(x.shape.filter((_, d) => !axes.includes(d)));
    const r = size(axes.map((d) => x.shape[d]));
    if (n === 0) return;
    if (r === 0) {
      // Nothing to reduce: the op's identity (the reference's starting value).
      const identity = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      this.put(this.storageOf(out), out.offset, new Float32Array(n).fill(identity));
      return;
    }
    const o = this.operand("tx", x);
    const spec = reduceKernel(op, x.shape, o.operand, axes);
    if (!spec) throw new RangeError(`${this.name}: reduce over [${x.shape}] has a dim no thread grid addresses`);
    this.kernelTo(spec, [o.texture], n, out);
  }

  matmul(a: View, b: View, out: Target): void {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const batch = a.shape.slice(0, -2);
    const cells = size(batch) * m * n;
    if (cells === 0) return;
    if (k === 0) {
      this.put(this.storageOf(out), out.offset, new Float32Array(cells));
      return;
    }
    const [oa, ob] = [this.operand("a", a), this.operand("b", b)];
    const spec = matmulKernel(batch, [m, k, n], oa.operand, ob.operand);
    if (!spec) throw new RangeError(`${this.name}: matmul of [${a.shape}] has a dim no thread grid addresses`);
    this.kernelTo(spec, [oa.texture, ob.texture], cells, out);
  }

  gather(x: View, index: View, axis: number, out: Target): void {
    const n = size(index.shape);
    if (n === 0) return;
    checkIndices("takeAlongAxis", this.readSync(index), axis, x.shape[axis]);
    const [ox, oi] = [this.operand("tx", x), this.operand("index", index)];
    const spec = gatherKernel(index.shape, ox.operand, oi.operand, axis);
    if (!spec) throw new RangeError(`${this.name}: gather over [${index.shape}] has a dim no thread grid addresses`);
    this.kernelTo(spec, [ox.texture, oi.texture], n, out);
  }

  softmax(x: View, out: Target): void {
    const n = size(x.shape);
    if (n === 0) return;
    const axis = x.shape.length - 1;
    const ox = this.operand("tx", x);
    const specs = softmaxKernels(x.shape, ox.operand, axis, "stats");
    if (!specs) throw new RangeError(`${this.name}: softmax over [${x.shape}] has a dim no thread grid addresses`);
    const stats = this.run(specs.stats, [ox.texture]);
    this.kernelTo(specs.normalize, [ox.texture, stats], n, out);
    stats.delete();
  }

  softmaxBackward(y: View, dy: View, out: Target): void {
    const n = size(y.shape);
    if (n === 0) return;
    const [oy, og] = [this.operand("ty", y), this.operand("tg", dy)];
    const dotSpec = rowDotKernel(y.shape, oy.operand, og.operand);
    if (!dotSpec) throw new RangeError(`${this.name}: softmax rows of [${y.shape}] exceed the thread grid`);
    const dot = this.run(dotSpec, [oy.texture, og.texture]);
    const spec = mapKernel(
      y.shape,
      [
        { ...oy.operand, as: "a" },
        { ...og.operand, as: "b" },
        { name: "tdot", strides: rowStrides(y.shape, 1), base: 0, as: "c" },
      ],
      "return a * (b - c);",
    )!;
    this.kernelTo(spec, [oy.texture, og.texture, dot], n, out);
    dot.delete();
  }

  layerNorm(x: View, weight: View, bias: View, eps: number, out: Target, mean: Target, rstd: Target): void {
    const d = x.shape[x.shape.length - 1];
    const rows = d === 0 ? 0 : size(x.shape) / d;
    if (rows === 0) return;
    const ox = this.operand("tx", x);
    const stats = this.run(rowStatsKernel(x.shape, ox.operand, eps)!, [ox.texture]);
    // mean and rstd: every other element of the [rows, 2] stats
    for (const [t, at] of [
      [mean, 0],
      [rstd, 1],
    ] as const) {
      const pick = mapKernel([rows], [{ name: "ts", strides: [2], base: at, as: "a" }], "return a;")!;
      this.kernelTo(pick, [stats], rows, t);
    }
    const [ow, ob] = [this.operand("tw", weight), this.operand("tb", bias)];
    const lead = x.shape.map(() => 0);
    const spec = mapKernel(
      x.shape,
      [
        { ...ox.operand, as: "a" },
        { name: "ts", strides: rowStrides(x.shape, 2), base: 0, as: "m" },
        { name: "ts", strides: rowStrides(x.shape, 2), base: 1, as: "r" },
        { ...ow.operand, strides: [...lead.slice(1), weight.strides[0]], as: "w" },
        { ...ob.operand, strides: [...lead.slice(1), bias.strides[0]], as: "c" },
      ],
      "return (a - m) * r * w + c;",
    )!;
    this.kernelTo(spec, [ox.texture, stats, ow.texture, ob.texture], rows * d, out);
    stats.delete();
  }

  layerNormBackward(
    dy: View,
    x: View,
    weight: View,
    mean: View,
    rstd: View,
    dx: Target | null,
    dweight: Target | null,
    dbias: Target | null,
  ): void {
    const d = x.shape[x.shape.length - 1];
    const rows = d === 0 ? 0 : size(x.shape) / d;
    const [og, ox, ow, om, or] = [
      this.operand("tg", dy),
      this.operand("tx", x),
      this.operand("tw", weight),
      this.operand("tm", mean),
      this.operand("tr", rstd),
    ];
    if (dx && rows > 0) {
      const spec = rowStatsKernel(x.shape, ox.operand, 0, {
        dy: og.operand,
        w: ow.operand,
        mean: om.operand,
        rstd: or.operand,
      })!;
      const stats = this.run(spec, [ox.texture, og.texture, ow.texture, om.texture, or.texture]);
      const lead = x.shape.map(() => 0);
      const perRow = (o: Operand, v: View) => ({ ...o, strides: [...v.strides, 0] });
      const map = mapKernel(
        x.shape,
        [
          { ...og.operand, as: "g" },
          { ...ox.operand, as: "a" },
          { ...ow.operand, strides: [...lead.slice(1), weight.strides[0]], as: "w" },
          { ...perRow(om.operand, mean), as: "mu" },
          { ...perRow(or.operand, rstd), as: "rs" },
          { name: "ts", strides: rowStrides(x.shape, 2), base: 0, as: "mg" },
          { name: "ts", strides: rowStrides(x.shape, 2), base: 1, as: "mgx" },
        ],
        "return rs * (g * w - mg - (a - mu) * rs * mgx);",
      )!;
      this.kernelTo(map, [og.texture, ox.texture, ow.texture, om.texture, or.texture, stats], rows * d, dx);
      stats.delete();
    }
    for (const [t, which] of [
      [dweight, "dweight"],
      [dbias, "dbias"],
    ] as const) {
      if (!t || d === 0) continue;
      if (rows === 0) {
        this.put(this.storageOf(t), t.offset, new Float32Array(d));
        continue;
      }
      const perRow = (o: Operand, v: View) => ({ ...o, strides: [...v.strides] });
      const spec = columnSumKernel(
        x.shape,
        og.operand,
        ox.operand,
        perRow(om.operand, mean),
        perRow(or.operand, rstd),
        which,
      )!;
      const args = which === "dbias" ? [og.texture] : [og.texture, ox.texture, om.texture, or.texture];
      this.kernelTo(spec, args, d, t);
    }
  }

  argmax(x: View, axis: number, out: Target): void {
    const n = size(x.shape) / Math.max(1, x.shape[axis]);
    if (size(x.shape.filter((_, d) => d !== axis)) === 0) return;
    const ox = this.operand("tx", x);
    this.kernelTo(argmaxKernel(x.shape, ox.operand, axis)!, [ox.texture], n, out);
  }

  // ---- On the host (see the header) ----

  scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void {
    this.hostKernel([base, index, src], size(base.shape), out, (v, t) =>
      this.reference.scatterAdd(v[0], v[1], v[2], axis, t),
    );
  }
  argsort(x: View, axis: number, descending: boolean, out: Target): void {
    this.hostKernel([x], size(x.shape), out, (v, t) => this.reference.argsort(v[0], axis, descending, t));
  }
  random(dist: Distribution, key: KeyWords, n: number, out: Target): void {
    this.hostKernel([], n, out, (_, t) => this.reference.random(dist, key, n, t));
  }

  /** Runs a reference kernel on host copies of `inputs` into a host target of n elements, then uploads it to `out`. */
  private hostKernel(
    inputs: readonly View[],
    n: number,
    out: Target,
    run: (views: View[], target: Target) => void,
  ): void {
    const views = inputs.map(
      (v): View => ({
        storage: new HostStorage(this.reference, this.readSync(v)),
        shape: v.shape,
        strides: contiguousStrides(v.shape),
        offset: 0,
      }),
    );
    const host = new HostStorage(this.reference, new Float32Array(n));
    run(views, { storage: host, offset: 0 });
    this.put(this.storageOf(out), out.offset, host.data as Float32Array);
  }
}

/** [lo, hi) of the storage elements a view reaches. */
function reach(v: View): [number, number] {
  let lo = v.offset;
  let hi = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    if (v.shape[d] === 0) return [v.offset, v.offset];
    const span = (v.shape[d] - 1) * v.strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  return [lo, hi + 1];
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d];
  }
  return strides;
}

/** Strides over `shape` [..., d] of per-row data with `per` values per row (stride 0 along the row). */
function rowStrides(shape: readonly number[], per: number): number[] {
  const strides = new Array<number>(shape.length).fill(0);
  let acc = per;
  for (let d = shape.length - 2; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d];
  }
  return strides;
}

let instance: WebGl2Backend | undefined;

/** Whether WebGL2 (with float render targets) runs here. */
export const webgl2Available = (): boolean => GPU.isWebGL2Supported;

registerBackend("gpujs:webgl2", () => {
  if (!webgl2Available()) throw new Error("the gpujs:webgl2 backend needs WebGL2 (a browser; Node has none)");
  instance ??= new WebGl2Backend();
  return instance;
});
