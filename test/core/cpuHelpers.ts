// Helpers for the cpu backend tests: views of random layout (permuted, sliced, reversed, broadcast,
// offset) built identically on two backends, values with special cases, and float32 ulp measures.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Backend, Target, View } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { setIndexingParallelThreshold } from "../../src/core/backends/cpu/indexing.ts";
import { setReduceParallelThreshold } from "../../src/core/backends/cpu/reduce.ts";
import { setRowsParallelThreshold } from "../../src/core/backends/cpu/rows.ts";
import { referenceBackend as ref } from "../../src/core/backends/reference.ts";
import { setGemmParallelThreshold } from "../../src/core/wasm/gemm.ts";
import { setCpuThreads } from "../../src/core/wasm/runtime.ts";
import { generator as prng } from "../helpers/conformanceOperands.ts";

// Failing properties say what failed (the assertion's message), not only the counterexample.
fc.configureGlobal({ ...fc.readConfigureGlobal(), includeErrorInReport: true });

/** How a view of a given shape sits in its storage. */
export interface Layout {
  /** Physical dim order (perm[0] outermost). */
  perm: number[];
  reversed: boolean[];
  /** Element step along each dim (2: every other element, a slice). */
  step: number[];
  /** Stride 0: one element repeated along the dim. */
  broadcast: boolean[];
  /** Extra physical elements per dim, and before the first one. */
  pad: number[];
  offset: number;
}

export const contiguousLayout = (rank: number): Layout => ({
  perm: Array.from({ length: rank }, (_, i) => i),
  reversed: new Array(rank).fill(false),
  step: new Array(rank).fill(1),
  broadcast: new Array(rank).fill(false),
  pad: new Array(rank).fill(0),
  offset: 0,
});

/** Layouts of a rank; `broadcast` allows stride-0 dims (inputs only). */
export function layoutArb(rank: number, opts: { broadcast?: boolean; simple?: boolean } = {}): fc.Arbitrary<Layout> {
  const bools = (weight: number) =>
    fc.array(
      fc.nat(99).map((v) => v < weight),
      { minLength: rank, maxLength: rank },
    );
  return fc.record({
    perm: fc
      .constant(Array.from({ length: rank }, (_, i) => i))
      .chain((ids) =>
        opts.simple ? fc.constant(ids) : fc.shuffledSubarray(ids, { minLength: rank, maxLength: rank }),
      ),
    reversed: opts.simple ? fc.constant(new Array(rank).fill(false)) : bools(20),
    step: fc.array(fc.constantFrom(1, 1, 1, 2), { minLength: rank, maxLength: rank }),
    broadcast: opts.broadcast ? bools(25) : fc.constant(new Array(rank).fill(false)),
    pad: fc.array(fc.constantFrom(0, 0, 0, 1, 3), { minLength: rank, maxLength: rank }),
    offset: fc.constantFrom(0, 0, 1, 5),
  });
}

/** Physical extents, strides and size of a layout for `shape`. */
function physical(shape: readonly number[], l: Layout) {
  const extent = shape.map((s, d) => (l.broadcast[d] ? 1 : s * l.step[d] + l.pad[d]));
  const pstride = new Array<number>(shape.length).fill(0);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    pstride[l.perm[k]] = acc;
    acc *= extent[l.perm[k]];
  }
  return { extent, pstride, size: l.offset + acc };
}

/** Elements of storage a view of `shape` with layout `l` needs. */
export const storageSize = (shape: readonly number[], l: Layout) => physical(shape, l).size;

/** The view of `shape` with layout `l` over `storage`. */
export function layoutView(storage: View["storage"], shape: readonly number[], l: Layout): View {
  const { pstride } = physical(shape, l);
  let offset = l.offset;
  const strides = shape.map((s, d) => {
    if (l.broadcast[d]) return 0;
    const st = l.step[d] * pstride[d];
    if (l.reversed[d] && s > 0) {
      offset += (s - 1) * st;
      return -st;
    }
    return st;
  });
  return { storage, shape: [...shape], strides, offset };
}

/** Uploads `data` to backend b and returns the view of `shape` with layout `l` over it. */
export function makeView(b: Backend, shape: readonly number[], l: Layout, data: Float32Array): View {
  return layoutView(b.upload(data, "float32"), shape, l);
}

export const SPECIALS = [
  Number.NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1,
  -1,
  0.5,
  1e-40,
  -1e-40,
  3e38,
  -3e38,
  1e-30,
  20,
  -20,
  100,
  -100,
];

/** n values: mostly normal(0, scale); with `specials`, about 1 in 8 a special value. */
export function values(n: number, seed: number, opts: { specials?: boolean; scale?: number } = {}): Float32Array {
  const rand = prng(seed);
  const scale = opts.scale ?? 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (opts.specials && rand() < 0.125) out[i] = SPECIALS[Math.floor(rand() * SPECIALS.length)];
    else {
      const u = Math.max(rand(), 1e-12);
      out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    }
  }
  return out;
}

/** Random integers in [0, n) as floats. */
export function indices(count: number, n: number, seed: number): Float32Array {
  const rand = prng(seed);
  return Float32Array.from({ length: count }, () => Math.floor(rand() * n));
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A shape of rank 0..maxRank with dims 0..maxDim (0 rarely). */
export const shapeArb = (maxRank = 4, maxDim = 6, minRank = 0) =>
  fc.array(
    fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: maxDim }) }, { weight: 1, arbitrary: fc.constant(0) }),
    {
      minLength: minRank,
      maxLength: maxRank,
    },
  );

/** Distance from b in float32 ulps of b (ulp of the smallest normal below 2^-126). */
export function ulps(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const e = Math.max(Math.floor(Math.log2(Math.abs(b))), -126);
  return Math.abs(a - b) / 2 ** (e - 23);
}

/** The float32 ulp at |x|. */
export const ulp = (x: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -126)), -126) - 23);

/**
 * Asserts got[i] is want[i] (NaN for NaN, ±inf exactly) or within tol(i, want) absolutely; equal
 * arrays when tol is omitted (bitwise: -0 differs from 0).
 */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  tol?: (i: number, want: number) => number,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const [g, w] = [got[i], want[i]];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      assert.ok(Number.isNaN(w) && Number.isNaN(g), `${what}[${i}]: got ${g}, want ${w}`);
      continue;
    }
    if (Object.is(g, w)) continue;
    if (!tol || !Number.isFinite(w)) {
      assert.ok(Object.is(g, w) || (tol !== undefined && g === w), `${what}[${i}]: got ${g}, want ${w}`);
      continue;
    }
    const t = tol(i, w);
    assert.ok(Math.abs(g - w) <= t, `${what}[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)} > ${t})`);
  }
}

/** The whole storage behind a view (gaps included), read back. */
export function readAll(b: Backend, v: { storage: View["storage"] }): Float32Array {
  const n = v.storage.size;
  return b.readSync({ storage: v.storage, shape: [n], strides: [1], offset: 0 }) as Float32Array;
}

/** A target of n elements at `offset` in a storage filled with a sentinel (to see stray writes). */
export function sentinelTarget(b: Backend, n: number, offset = 3, sentinel = -12345): Target {
  return { storage: b.upload(new Float32Array(n + offset + 2).fill(sentinel), "float32"), offset };
}

/** Runs `body(pooled)` on the cpu backend with the parallel cut-overs lowered to 0 (pooled) or at their defaults. */
export function paths(pooled: boolean, body: () => void): void {
  setCpuThreads(pooled ? 2 : 1);
  setReduceParallelThreshold(pooled ? 0 : undefined);
  setRowsParallelThreshold(pooled ? 0 : undefined);
  setGemmParallelThreshold(pooled ? 0 : undefined);
  setIndexingParallelThreshold(pooled ? 0 : undefined);
  try {
    body();
  } finally {
    setCpuThreads(2);
    setReduceParallelThreshold();
    setRowsParallelThreshold();
    setGemmParallelThreshold();
    setIndexingParallelThreshold();
  }
}

/** A view of `shape` with layout `l` holding the same values on the reference and cpu backends. */
export const both = (shape: number[], l: Layout, data: Float32Array) =>
  [ref, cpu].map((b) => makeView(b, shape, l, data));

/** The target's n elements (and the sentinels around them) on each backend after `run`. */
export function targets(n: number, run: (b: Backend, t: Target, k: number) => void): Float32Array[] {
  return [ref, cpu].map((b, k) => {
    const t = sentinelTarget(b, n);
    run(b, t, k);
    return readAll(b, t);
  });
}

export { prng };
