// The WebGL2 backend ("gpujs:webgl2") for browsers without WebGPU: tensors resident in GPU textures
// (textureStorage.ts, views onto them in textureViews.ts), every kernel a gpu.js kernel in webgl2 mode
// with `pipeline: true` (its output stays a texture; `immutable`, so each call gets a new one). Held to
// backends/reference.ts by the conformance checks in the browser (test/browser/gpu.test.ts).
//
// WebGL2 reads synchronously (readPixels), so `readSync` works — at the cost of a stall. Kernels
// gpu.js cannot express well run on the host over read-back values and upload their result: correct,
// slower, and rare in a training step — scatterAdd (gpu.js kernels only gather; the scatter's
// repeated indices would need a pass per index), argsort, random draws (Threefry needs 32-bit
// integer arithmetic), and views that span several kernels' outputs or write through strides.

import { GPU } from "gpu.js";
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
import { contiguousStrides, shapeSize } from "../../shape.ts";
import { checkIndices } from "../hostKernels.ts";
import { gatherKernel, matmulKernel, mapKernel, reduceKernel, softmaxKernels, type Operand } from "../gpujsKernels.ts";
import { HostStorage, referenceBackend } from "../reference.ts";
import { TextureStorage } from "./textureStorage.ts";
import { TextureViews, type Texture } from "./textureViews.ts";
import {
  argmaxKernel,
  columnSumKernel,
  programKernel,
  rowDotKernel,
  rowStatsKernel,
  SPECIALS,
} from "./webgl2Kernels.ts";

export class WebGl2Backend implements Backend {
  readonly name = "gpujs:webgl2";
  readonly dtypes = ["float32"] as const;
  readonly canReadSync = true;
  readonly description = "WebGL2 through gpu.js (textures)";
  private readonly views = new TextureViews(this.name);
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
    this.views.put(s, 0, values instanceof Float32Array ? values : Float32Array.from(values));
    return s;
  }
  free(s: Storage): void {
    if (s instanceof TextureStorage) s.clear();
  }
  readSync(x: View): Float32Array {
    return this.views.read(x);
  }
  async read(x: View): Promise<Float32Array> {
    return this.readSync(x);
  }

  // ---- Kernels ----

  elementwise(program: Program, inputs: readonly View[], shape: readonly number[], outputs: readonly View[]): void {
    const n = shapeSize(shape);
    if (n === 0) return;
    const ops = inputs.map((v, k) => this.views.operand(`x${k}`, v));
    program.outputs.forEach((reg, j) => {
      const spec = programKernel(
        shape,
        ops.map((o) => o.operand),
        program,
        reg,
      );
      if (!spec) throw new RangeError(`${this.name}: shape [${shape}] has a dim no gpu.js thread grid addresses`);
      const args: (Texture | Float32Array)[] = ops.map((o) => o.texture);
      this.views.store(this.views.run(spec, spec.specials ? [...args, SPECIALS] : args), n, outputs[j]);
    });
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
    const n = shapeSize(x.shape.filter((_, d) => !axes.includes(d)));
    const r = shapeSize(axes.map((d) => x.shape[d]));
    if (n === 0) return;
    if (r === 0) {
      // Nothing to reduce: the op's identity (the reference's starting value).
      const identity = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      this.views.put(this.views.storageOf(out), out.offset, new Float32Array(n).fill(identity));
      return;
    }
    const o = this.views.operand("tx", x);
    const spec = reduceKernel(op, x.shape, o.operand, axes);
    if (!spec) throw new RangeError(`${this.name}: reduce over [${x.shape}] has a dim no thread grid addresses`);
    this.views.kernelTo(spec, [o.texture], n, out);
  }

  matmul(a: View, b: View, out: Target): void {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const batch = a.shape.slice(0, -2);
    const cells = shapeSize(batch) * m * n;
    if (cells === 0) return;
    if (k === 0) {
      this.views.put(this.views.storageOf(out), out.offset, new Float32Array(cells));
      return;
    }
    const [oa, ob] = [this.views.operand("a", a), this.views.operand("b", b)];
    const spec = matmulKernel(batch, [m, k, n], oa.operand, ob.operand);
    if (!spec) throw new RangeError(`${this.name}: matmul of [${a.shape}] has a dim no thread grid addresses`);
    this.views.kernelTo(spec, [oa.texture, ob.texture], cells, out);
  }

  gather(x: View, index: View, axis: number, out: Target): void {
    const n = shapeSize(index.shape);
    if (n === 0) return;
    checkIndices("takeAlongAxis", this.readSync(index), axis, x.shape[axis]);
    const [ox, oi] = [this.views.operand("tx", x), this.views.operand("index", index)];
    const spec = gatherKernel(index.shape, ox.operand, oi.operand, axis);
    if (!spec) throw new RangeError(`${this.name}: gather over [${index.shape}] has a dim no thread grid addresses`);
    this.views.kernelTo(spec, [ox.texture, oi.texture], n, out);
  }

  softmax(x: View, out: Target): void {
    const n = shapeSize(x.shape);
    if (n === 0) return;
    const axis = x.shape.length - 1;
    const ox = this.views.operand("tx", x);
    const specs = softmaxKernels(x.shape, ox.operand, axis, "stats");
    if (!specs) throw new RangeError(`${this.name}: softmax over [${x.shape}] has a dim no thread grid addresses`);
    const stats = this.views.run(specs.stats, [ox.texture]);
    this.views.kernelTo(specs.normalize, [ox.texture, stats], n, out);
    stats.delete();
  }

  softmaxBackward(y: View, dy: View, out: Target): void {
    const n = shapeSize(y.shape);
    if (n === 0) return;
    const [oy, og] = [this.views.operand("ty", y), this.views.operand("tg", dy)];
    const dotSpec = rowDotKernel(y.shape, oy.operand, og.operand);
    if (!dotSpec) throw new RangeError(`${this.name}: softmax rows of [${y.shape}] exceed the thread grid`);
    const dot = this.views.run(dotSpec, [oy.texture, og.texture]);
    const spec = mapKernel(
      y.shape,
      [
        { ...oy.operand, as: "a" },
        { ...og.operand, as: "b" },
        { name: "tdot", strides: rowStrides(y.shape, 1), base: 0, as: "c" },
      ],
      "return a * (b - c);",
    )!;
    this.views.kernelTo(spec, [oy.texture, og.texture, dot], n, out);
    dot.delete();
  }

  layerNorm(x: View, weight: View, bias: View, eps: number, out: Target, mean: Target, rstd: Target): void {
    const d = x.shape[x.shape.length - 1];
    const rows = d === 0 ? 0 : shapeSize(x.shape) / d;
    if (rows === 0) return;
    const ox = this.views.operand("tx", x);
    const stats = this.views.run(rowStatsKernel(x.shape, ox.operand, eps)!, [ox.texture]);
    // mean and rstd: every other element of the [rows, 2] stats
    for (const [t, at] of [
      [mean, 0],
      [rstd, 1],
    ] as const) {
      const pick = mapKernel([rows], [{ name: "ts", strides: [2], base: at, as: "a" }], "return a;")!;
      this.views.kernelTo(pick, [stats], rows, t);
    }
    const [ow, ob] = [this.views.operand("tw", weight), this.views.operand("tb", bias)];
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
    this.views.kernelTo(spec, [ox.texture, stats, ow.texture, ob.texture], rows * d, out);
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
    const rows = d === 0 ? 0 : shapeSize(x.shape) / d;
    const [og, ox, ow, om, or] = [
      this.views.operand("tg", dy),
      this.views.operand("tx", x),
      this.views.operand("tw", weight),
      this.views.operand("tm", mean),
      this.views.operand("tr", rstd),
    ];
    if (dx && rows > 0) {
      const spec = rowStatsKernel(x.shape, ox.operand, 0, {
        dy: og.operand,
        w: ow.operand,
        mean: om.operand,
        rstd: or.operand,
      })!;
      const stats = this.views.run(spec, [ox.texture, og.texture, ow.texture, om.texture, or.texture]);
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
      this.views.kernelTo(map, [og.texture, ox.texture, ow.texture, om.texture, or.texture, stats], rows * d, dx);
      stats.delete();
    }
    for (const [t, which] of [
      [dweight, "dweight"],
      [dbias, "dbias"],
    ] as const) {
      if (!t || d === 0) continue;
      if (rows === 0) {
        this.views.put(this.views.storageOf(t), t.offset, new Float32Array(d));
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
      this.views.kernelTo(spec, args, d, t);
    }
  }

  argmax(x: View, axis: number, out: Target): void {
    const n = shapeSize(x.shape) / Math.max(1, x.shape[axis]);
    if (shapeSize(x.shape.filter((_, d) => d !== axis)) === 0) return;
    const ox = this.views.operand("tx", x);
    this.views.kernelTo(argmaxKernel(x.shape, ox.operand, axis)!, [ox.texture], n, out);
  }

  // ---- On the host (see the header) ----

  scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void {
    this.hostKernel([base, index, src], shapeSize(base.shape), out, (v, t) =>
      this.reference.scatterAdd(v[0], v[1], v[2], axis, t),
    );
  }
  argsort(x: View, axis: number, descending: boolean, out: Target): void {
    this.hostKernel([x], shapeSize(x.shape), out, (v, t) => this.reference.argsort(v[0], axis, descending, t));
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
    this.views.put(this.views.storageOf(out), out.offset, host.data as Float32Array);
  }
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
