// The GEMM impls of bench/gpu/gemm.ts, with no Node import (a browser page runs them too: on
// SwiftShader only their results mean anything, not their speed).

import { GPU, type IKernelRunShortcut } from "gpu.js";
import * as T from "../../src/core/index.ts";

export interface GemmShape {
  name: string;
  batch: number;
  m: number;
  k: number;
  n: number;
  /** A stored transposed ([k, m] in memory), as in a weight gradient xᵀ·dy. */
  transposeA?: boolean;
}

/** ViT-MAE-Base at batch 64: encoder 64×50 tokens (width 768, MLP 3072), decoder 64×197 (512, 2048). */
export const VIT_SHAPES: GemmShape[] = [
  { name: "patch-embed 12544x768x768", batch: 1, m: 12544, k: 768, n: 768 },
  { name: "enc qkv/out 3200x768x768", batch: 1, m: 3200, k: 768, n: 768 },
  { name: "enc fc1 3200x768x3072", batch: 1, m: 3200, k: 768, n: 3072 },
  { name: "enc fc2 3200x3072x768", batch: 1, m: 3200, k: 3072, n: 768 },
  { name: "enc fc1 dW 768x3200x3072 (Aᵀ)", batch: 1, m: 768, k: 3200, n: 3072, transposeA: true },
  { name: "enc scores 768x[50x64x50]", batch: 768, m: 50, k: 64, n: 50 },
  { name: "dec fc1 12608x512x2048", batch: 1, m: 12608, k: 512, n: 2048 },
  { name: "dec fc2 12608x2048x512", batch: 1, m: 12608, k: 2048, n: 512 },
  { name: "dec scores 1024x[197x32x197]", batch: 1024, m: 197, k: 32, n: 197 },
  { name: "dec probs·V 1024x[197x197x32]", batch: 1024, m: 197, k: 197, n: 32 },
  { name: "square 4096x4096x4096", batch: 1, m: 4096, k: 4096, n: 4096 },
];

export const flops = (s: GemmShape) => 2 * s.batch * s.m * s.k * s.n;

/** Deterministic operands in [-1, 1): A as [batch, m, k] (or [batch, k, m] when transposeA), B as [batch, k, n]. */
export function operands(s: GemmShape): { a: Float32Array; b: Float32Array } {
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) / 2 ** 23 - 1;
  };
  return {
    a: Float32Array.from({ length: s.batch * s.m * s.k }, next),
    b: Float32Array.from({ length: s.batch * s.k * s.n }, next),
  };
}

/** An impl: prepares a shape and returns run (issue one product) and finish (wait for everything issued). */
export interface Impl {
  name: string;
  prepare(s: GemmShape, a: Float32Array, b: Float32Array): Promise<{ run(): void; result(): Promise<Float32Array> }>;
}

export const ours: Impl = {
  name: "vitmae-ts (gpujs:webgpu)",
  async prepare(s, a, b) {
    T.setBackend((await T.loadBackend("gpujs:webgpu")).name);
    const at = s.transposeA
      ? T.permute(T.fromArray(a, [s.batch, s.k, s.m]), [0, 2, 1])
      : T.fromArray(a, [s.batch, s.m, s.k]);
    const bt = T.fromArray(b, [s.batch, s.k, s.n]);
    let last = T.matmul(at, bt);
    return {
      run: () => void (last = T.matmul(at, bt)),
      result: () => last.data(),
    };
  },
};

/** gpu.js's own kernel for a product (webgpu mode, results left on the GPU): one thread per output. */
export const gpujs: Impl = {
  name: "gpu.js webgpu kernel",
  async prepare(s, a, b) {
    const gpu = new GPU({ mode: "webgpu" });
    const [m, k, n] = [s.m, s.k, s.n];
    const aAt = s.transposeA ? `a[z * ${k * m} + i * ${m} + y]` : `a[z * ${m * k} + y * ${k} + i]`;
    const kernel: IKernelRunShortcut = gpu.createKernel(
      `function(a, b) {
        const z = ${s.batch > 1 ? "this.thread.z" : "0"}; const y = this.thread.y; const x = this.thread.x;
        let sum = 0;
        for (let i = 0; i < ${k}; i++) sum += ${aAt} * b[z * ${k * n} + i * ${n} + x];
        return sum;
      }`,
      { output: s.batch > 1 ? [n, m, s.batch] : [n, m], pipeline: true, immutable: true },
    );
    const pending: Promise<unknown>[] = [];
    let last: Promise<unknown> = kernel(a, b) as unknown as Promise<unknown>;
    await last;
    // Arguments go up once: later calls reuse the resident copies of the first results' inputs.
    const ra = gpu.createKernel("function(a) { return a[this.thread.x]; }", { output: [a.length], pipeline: true });
    const rb = gpu.createKernel("function(b) { return b[this.thread.x]; }", { output: [b.length], pipeline: true });
    type Arg = Parameters<IKernelRunShortcut>[0];
    const [da, db] = (await Promise.all([ra(a), rb(b)] as unknown as Promise<unknown>[])) as Arg[];
    return {
      run: () => {
        const previous = last;
        last = kernel(da, db) as unknown as Promise<unknown>;
        pending.push(previous.then((r) => (r as { delete(): void }).delete()));
      },
      result: async () => {
        const r = (await last) as { toArray(): Promise<unknown> };
        await Promise.all(pending.splice(0));
        return flatten(await r.toArray());
      },
    };
  },
};

function flatten(x: unknown): Float32Array {
  if (x instanceof Float32Array) return x;
  const parts: Float32Array[] = [];
  const walk = (v: unknown) => (v instanceof Float32Array ? parts.push(v) : (v as unknown[]).forEach(walk));
  walk(x);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** tfjs's WebGPU backend (packed for the device run; not a dependency of the project). */
export const tfjs: Impl = {
  name: "tfjs-webgpu",
  async prepare(s, a, b) {
    const tf = (await import("@tensorflow/tfjs")) as typeof import("@tensorflow/tfjs");
    const backend = "@tensorflow/tfjs-backend-webgpu";
    await import(backend);
    if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs: the webgpu backend failed to initialise");
    const at = tf.tensor3d(a, s.transposeA ? [s.batch, s.k, s.m] : [s.batch, s.m, s.k]);
    const bt = tf.tensor3d(b, [s.batch, s.k, s.n]);
    let last = tf.matMul(at, bt, s.transposeA, false);
    return {
      run: () => {
        last.dispose();
        last = tf.matMul(at, bt, s.transposeA, false);
      },
      result: async () => (await last.data()) as Float32Array,
    };
  },
};

/** Times `reps` products issued back to back and one wait; returns TFLOP/s and the product for the check. */
export async function measure(
  impl: Impl,
  s: GemmShape,
  quick: boolean,
): Promise<{ tflops: number; out: Float32Array }> {
  const { a, b } = operands(s);
  const p = await impl.prepare(s, a, b);
  const out = await p.result(); // warm: compiled, uploaded
  p.run();
  await p.result();
  const reps = Math.max(3, Math.min(quick ? 20 : 200, Math.ceil((quick ? 2e11 : 2e12) / flops(s))));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) p.run();
  await p.result();
  const seconds = (performance.now() - t0) / 1000;
  return { tflops: (flops(s) * reps) / seconds / 1e12, out };
}

/** max |got - want| / max |want|. */
export function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return got.length === want.length ? d / Math.max(m, 1e-30) : Number.NaN;
}
