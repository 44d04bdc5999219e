// How the WebGL2 backend's views map onto gpu.js textures: a tensor's storage is a list of segments,
// each a kernel's output texture (textureStorage.ts); a view becomes a kernel operand (its texture and
// its indexing into it), a kernel's output is written back as a new segment, and a view that spans
// several segments or is written through strides takes a host round trip. Kernels are compiled once per
// source and argument layout.

import { GPU, type IKernelRunShortcut } from "gpu.js";
import type { Storage, Target, View } from "../../backend.ts";
import { isContiguous, shapeSize } from "../../shape.ts";
import { forEachIndex } from "../hostKernels.ts";
import type { KernelSpec, Operand } from "../gpujsKernels.ts";
import { TextureStorage, type GlTexture } from "./textureStorage.ts";
import type { ProgramSpec } from "./webgl2Kernels.ts";

/** A gpu.js texture as this backend uses it. */
export interface Texture extends GlTexture {
  toArray(): unknown;
  /** The texture's own dims [width, height], the kernel output it holds, and its gpu.js type. */
  readonly size: number[];
  readonly output: number[];
  readonly type: string;
}

/** The textures of one backend: reading views, writing kernel outputs, running gpu.js kernels. */
export class TextureViews {
  private readonly gpu = new GPU({ mode: "webgl2" });
  private readonly kernels = new Map<string, IKernelRunShortcut>();

  constructor(private readonly backendName: string) {}

  /** The view's values, read back from its textures. */
  read(x: View): Float32Array {
    const n = shapeSize(x.shape);
    const out = new Float32Array(n);
    if (n === 0) return out;
    const { data, base } = this.hostWindow(x);
    forEachIndex({ ...x, offset: x.offset - base }, (i, at) => (out[i] = data[at]));
    return out;
  }

  /** Host values of storage elements [lo, hi) of the view's reach, and lo. */
  hostWindow(x: View): { data: Float32Array; base: number } {
    const [lo, hi] = reach(x);
    const s = this.storageOf(x);
    const seg = this.segment(s, lo, hi);
    const all = flatten((seg.texture as Texture).toArray(), seg.at + (hi - seg.offset));
    return { data: all.subarray(seg.at + (lo - seg.offset)), base: lo };
  }

  storageOf(v: { storage: Storage }): TextureStorage {
    if (!(v.storage instanceof TextureStorage))
      throw new TypeError(`${this.backendName}: storage of backend "${v.storage.backend.name}" is not on this GPU`);
    return v.storage;
  }

  /** Uploads host values as elements [offset, offset + n) (a copy kernel over a Float32Array). */
  put(s: TextureStorage, offset: number, values: Float32Array): void {
    if (values.length === 0) return;
    const spec: KernelSpec = { source: "function(v) { return v[this.thread.x]; }", output: [values.length] };
    s.write(offset, values.length, this.run(spec, [values]));
  }

  /** The segment holding [lo, hi): one kernel's output, or the range made one by a host round trip. */
  segment(s: TextureStorage, lo: number, hi: number) {
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
  operand(name: string, v: View): { texture: Texture; operand: Operand } {
    const [lo, hi] = reach(v);
    const seg = this.segment(this.storageOf(v), lo, Math.max(hi, lo + 1));
    return {
      texture: seg.texture as Texture,
      operand: { name, strides: v.strides, base: seg.at + (v.offset - seg.offset) },
    };
  }

  /** Runs a kernel (compiled once per source, output and argument layouts); returns its output texture. */
  run(spec: KernelSpec | ProgramSpec, args: (Texture | Float32Array)[]): Texture {
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
  store(texture: Texture, n: number, out: View): void {
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
  kernelTo(spec: KernelSpec, textures: Texture[], n: number, out: Target): void {
    const t = this.run(spec, textures);
    this.storageOf(out).write(out.offset, n, t);
  }
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

/** [lo, hi) of the storage elements a view reaches. */
export function reach(v: View): [number, number] {
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
