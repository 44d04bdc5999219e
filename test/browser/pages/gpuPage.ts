// Runs in a browser page (test/browser/gpu.test.ts): what the generated op cases of
// backendConformance.ts do not reach on the webgpu backend — every GEMM tile shape on odd sizes,
// reductions long enough to be cut into chunks, a bad index reported by the next read, one
// submission per compiled step, a compiled function rerun on new inputs, a profile — and gpu.js's
// own webgpu matmul kernel at a ViT shape against ours (on SwiftShader: its results, not its speed).
import * as T from "../../../src/core/index.ts";
import type { Backend, View } from "../../../src/core/backend.ts";
import { valueAndGrad } from "../../../src/autodiff/index.ts";
import { matmul, TILES } from "../../../src/core/backends/webgpu/gemmShader.ts";
import type { WebGpuBackend } from "../../../src/core/backends/webgpu/webgpuBackend.ts";
import { jit } from "../../../src/jit/index.ts";
import { gpujs, measure, ours, relErr } from "../../../bench/gpu/gemmImpls.ts";
import { reportResult } from "../../helpers/pageResult.ts";

const ref = () => T.getBackend("reference");

/** max |got - want| / max(1, max |want|). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 1;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return got.length === want.length ? d / m : Number.POSITIVE_INFINITY;
}

/** Deterministic values in [-1, 1). */
const data = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) % 1);

/** The same strided view on `be` and on the reference. */
function pair(be: Backend, shape: number[], strides: number[], n: number, seed: number): [View, View] {
  const d = data(n, seed);
  return [
    { storage: be.upload(d, "float32"), shape, strides, offset: 0 },
    { storage: ref().upload(d, "float32"), shape, strides, offset: 0 },
  ];
}

/** Every tile on odd sizes, A transposed or not: relative error against the reference per case. */
async function gemmTiles(be: WebGpuBackend): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const [m, k, n, b] = [133, 37, 141, 3];
  for (const [name, tile] of Object.entries(TILES))
    for (const transposed of [false, true]) {
      const [a, ar] = pair(be, [b, m, k], transposed ? [m * k, 1, m] : [m * k, k, 1], b * m * k, 1);
      const [w, wr] = pair(be, [b, k, n], [k * n, n, 1], b * k * n, 2);
      const got = be.alloc(b * m * n, "float32");
      matmul(be.queue, a, w, { storage: got, offset: 0 }, tile);
      const want = ref().alloc(b * m * n, "float32");
      ref().matmul(ar, wr, { storage: want, offset: 0 });
      const all = (s: T.Storage) => ({ storage: s, shape: [b * m * n], strides: [1], offset: 0 });
      out[`${name}${transposed ? " Aᵀ" : ""}`] = worst(await be.read(all(got)), await ref().read(all(want)));
    }
  return out;
}

/** Reductions cut into chunks (runs over 4096 elements), columns, and max with a NaN: relative error each. */
async function longReductions(be: WebGpuBackend): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const cases: [string, "sum" | "max", number[], number[], number[]][] = [
    ["sum of rows of 10007", "sum", [3, 10007], [10007, 1], [1]],
    ["sum of columns of 5000", "sum", [5000, 7], [7, 1], [0]],
    ["sum of everything (40000, transposed)", "sum", [200, 200], [1, 200], [0, 1]],
    ["max over 9000 with a NaN", "max", [9000], [1], [0]],
  ];
  for (const [name, op, shape, strides, axes] of cases) {
    const size = shape.reduce((p, d) => p * d, 1);
    const d = data(size, 3);
    if (name.includes("NaN")) d[4321] = Number.NaN;
    const x: View = { storage: be.upload(d, "float32"), shape, strides, offset: 0 };
    const xr: View = { storage: ref().upload(d, "float32"), shape, strides, offset: 0 };
    const n = size / axes.reduce((p, a) => p * shape[a], 1);
    const got = be.alloc(n, "float32");
    const want = ref().alloc(n, "float32");
    be.reduce(op, x, axes, { storage: got, offset: 0 });
    ref().reduce(op, xr, axes, { storage: want, offset: 0 });
    const [g, w] = [
      await be.read({ storage: got, shape: [n], strides: [1], offset: 0 }),
      await ref().read({ storage: want, shape: [n], strides: [1], offset: 0 }),
    ];
    out[name] = Number.isNaN(w[0]) ? (Number.isNaN(g[0]) ? 0 : 1) : worst(g, w);
  }
  return out;
}

/** A gather with index 9 on an axis of 4: the read after it throws, the one after that works. */
async function badIndex(): Promise<{ first: string; second: number[] }> {
  const x = T.fromArray([1, 2, 3, 4], [4]);
  const bad = T.takeAlongAxis(x, T.fromArray([0, 9], [2]), 0);
  let first = "no error";
  try {
    await bad.data();
  } catch (e) {
    first = String((e as Error).message);
  }
  return { first, second: [...(await T.add(x, 1).data())] };
}

/** Submissions of one compiled training-like step, and its results rerun on new inputs against eager ones. */
async function compiledStep(be: WebGpuBackend): Promise<{ submits: number[]; rerun: number[] }> {
  const w = T.random.normal(T.key(1), [32, 16]);
  const b = T.random.normal(T.key(2), [16]);
  // loss = Σ gelu(softmax(x·w + b)) and its gradient in w: GEMMs, a row kernel, fused elementwise chains.
  const f = (x: T.Tensor, ww: T.Tensor) =>
    valueAndGrad((q: T.Tensor) => T.sum(T.gelu(T.softmax(T.add(T.matmul(x, q), b)))))(ww);
  const compiled = jit(f);
  const submits: number[] = [];
  const rerun: number[] = [];
  for (let i = 0; i < 3; i++) {
    const x = T.random.normal(T.key(10 + i), [8, 32]);
    const before = be.queue.submits;
    const [, g] = compiled(x, w);
    const got = await g.data();
    submits.push(be.queue.submits - before);
    rerun.push(worst(got, await f(x, w)[1].data()));
  }
  return { submits, rerun };
}

/** Profile rows after a small matmul and map (labels and counts). */
async function profile(be: WebGpuBackend): Promise<{ label: string; count: number }[]> {
  if (!be.queue.gpu.timestamps) return [];
  be.queue.startProfile();
  await T.exp(T.matmul(T.ones([64, 64]), T.ones([64, 64]))).data();
  return (await be.queue.stopProfile()).map(({ label, count }) => ({ label, count }));
}

reportResult(async () => {
  const be = (await T.loadBackend("gpujs:webgpu")) as WebGpuBackend;
  T.setBackend(be.name);
  const scores = { name: "scores 96x[50x64x50]", batch: 96, m: 50, k: 64, n: 50 };
  const [a, g] = [await measure(ours, scores, true), await measure(gpujs, scores, true)];
  return {
    adapter: be.description,
    gemmTiles: await gemmTiles(be),
    reductions: await longReductions(be),
    badIndex: await badIndex(),
    compiledStep: await compiledStep(be),
    profile: await profile(be),
    gpujsKernel: { relErr: relErr(g.out, a.out), values: a.out.length },
  };
});
