// The cpu backend's indexing kernels, random draws and storage, held to the reference backend on
// random shapes, layouts and special values, on one thread and on the pool: gather, scatterAdd,
// argsort and argmax exactly; uniform and bernoulli draws exactly, normal ones within the stated ulps.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Distribution, View } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { referenceBackend as ref } from "../../src/core/backends/reference.ts";
import {
  assertClose,
  contiguousLayout,
  indices,
  type Layout,
  layoutArb,
  makeView,
  readAll,
  sentinelTarget,
  shapeArb,
  size,
  storageSize,
  ulp,
  values,
  both,
  paths,
  targets,
} from "./cpuHelpers.ts";

describe("cpu gather, scatterAdd, argsort, argmax", () => {
  const indexCase = shapeArb(3, 6, 1).chain((s) =>
    fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 1, max: 7 }), fc.boolean()),
  );

  it("gather and scatterAdd agree exactly, with the index broadcast along the inner dims or not", () => {
    fc.assert(
      fc.property(
        indexCase,
        fc.integer(),
        layoutArb(3),
        layoutArb(3),
        layoutArb(3),
        fc.boolean(),
        ([shape, axis, nx, rowwise], seed, lx, lIndex, lSrc, pooled) => {
          const pick = (l: Layout) => (shape.length === 3 ? l : contiguousLayout(shape.length));
          const xShape = shape.map((s, d) => (d === axis ? nx : s));
          const lxr = xShape.length === 3 ? lx : contiguousLayout(xShape.length);
          const [xr, xc] = both(xShape, lxr, values(storageSize(xShape, lxr), seed, { specials: true }));
          // the index: broadcast (stride 0) along the inner dims when rowwise, else any layout
          const li = rowwise
            ? { ...contiguousLayout(shape.length), broadcast: shape.map((_, d) => d > axis) }
            : pick(lIndex);
          const [ir, ic] = both(shape, li, indices(storageSize(shape, li), nx, seed + 1));
          const ls = pick(lSrc);
          const [sr, sc] = both(shape, ls, values(storageSize(shape, ls), seed + 2));
          paths(pooled, () => {
            const g = targets(size(shape), (b, t, k) => b.gather(k === 0 ? xr : xc, k === 0 ? ir : ic, axis, t));
            assertClose(g[1], g[0], `gather axis ${axis} ${JSON.stringify(shape)}`);
            const s = targets(size(xShape), (b, t, k) =>
              b.scatterAdd(k === 0 ? xr : xc, k === 0 ? ir : ic, k === 0 ? sr : sc, axis, t),
            );
            assertClose(s[1], s[0], `scatterAdd axis ${axis}`);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gather and scatterAdd throw a RangeError naming the op (takeAlongAxis, scatterAdd), axis, value and size for a bad index", () => {
    const x = makeView(cpu, [2, 3], contiguousLayout(2), new Float32Array(6));
    for (const [bad, what] of [
      [3, /takeAlongAxis: index 3 along axis 1 is out of range for a dimension of size 3/],
      [-1, /index -1 along axis 1 is out of range/],
      [1.5, /index 1.5 along axis 1 is not an integer/],
      [Number.NaN, /index NaN along axis 1 is not an integer/],
    ] as [number, RegExp][]) {
      const index = makeView(cpu, [2, 2], contiguousLayout(2), new Float32Array([0, 1, bad, 2]));
      const t = sentinelTarget(cpu, 4);
      const before = readAll(cpu, t);
      assert.throws(() => cpu.gather(x, index, 1, t), what);
      assert.deepEqual(readAll(cpu, t), before, "nothing written");
      const src = makeView(cpu, [2, 2], contiguousLayout(2), new Float32Array(4));
      assert.throws(() => cpu.scatterAdd(x, index, src, 1, sentinelTarget(cpu, 6)), RangeError);
    }
  });

  it("argsort (stable, NaN last, both directions) and argmax (first of ties, first NaN) agree exactly", () => {
    fc.assert(
      fc.property(indexCase, layoutArb(3), fc.integer(), fc.boolean(), ([shape, axis], l, seed, descending) => {
        const layout = shape.length === 3 ? l : contiguousLayout(shape.length);
        const data = values(storageSize(shape, layout), seed, { specials: true }).map((v) => Math.round(v)); // ties
        const [xr, xc] = both(shape, layout, data);
        const s = targets(size(shape), (b, t, k) => b.argsort(k === 0 ? xr : xc, axis, descending, t));
        assertClose(s[1], s[0], `argsort axis ${axis}`);
        const m = targets(size(shape) / shape[axis], (b, t, k) => b.argmax(k === 0 ? xr : xc, axis, t));
        assertClose(m[1], m[0], `argmax axis ${axis}`);
      }),
      { numRuns: 100 },
    );
  });
});

describe("cpu random", () => {
  const key = fc.record({ hi: fc.nat(2 ** 32 - 1), lo: fc.nat(2 ** 32 - 1) });
  const dist: fc.Arbitrary<Distribution> = fc.oneof(
    fc.record({
      kind: fc.constant("uniform" as const),
      low: fc.double({ min: -5, max: 5, noNaN: true }),
      high: fc.double({ min: -5, max: 5, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant("normal" as const),
      mean: fc.double({ min: -5, max: 5, noNaN: true }),
      std: fc.double({ min: 0, max: 3, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant("truncatedNormal" as const),
      lower: fc.constantFrom(-2, -3, -1, 0),
      upper: fc.constantFrom(2, 3, 0.5),
      std: fc.constantFrom(1, 0.02),
    }),
    fc.record({ kind: fc.constant("bernoulli" as const), p: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );

  it("draws what the reference draws: uniform and bernoulli exactly, normals with z within 5 ulp (then mean + std·z rounded)", () => {
    fc.assert(
      fc.property(dist, key, fc.integer({ min: 0, max: 3000 }), fc.boolean(), (d, k, n, pooled) => {
        paths(pooled, () => {
          const res = targets(n, (b, t) => b.random(d, k, n, t));
          if (d.kind === "uniform" || d.kind === "bernoulli") return assertClose(res[1], res[0], `${d.kind}`);
          const [mean, std] = d.kind === "normal" ? [d.mean, d.std] : [0, d.std];
          assertClose(
            res[1],
            res[0],
            d.kind,
            // z = (w − mean)/std is drawn in float32 (measured ≤ 4 ulp over 1.2M draws); w rounds once more.
            (_, w) => (std === 0 ? 0 : Math.abs(std) * 5 * ulp((w - mean) / std)) + ulp(w),
          );
        });
      }),
      { numRuns: 120 },
    );
  });
});

describe("cpu storage", () => {
  it("uploads, reads back any view, and refuses float64 with a TypeError", () => {
    const data = values(60, 1);
    const l: Layout = { ...contiguousLayout(3), perm: [2, 0, 1], reversed: [true, false, true], offset: 2 };
    const v = makeView(cpu, [3, 4, 2], l, values(storageSize([3, 4, 2], l), 1));
    const r = makeView(ref, [3, 4, 2], l, values(storageSize([3, 4, 2], l), 1));
    assert.deepEqual(cpu.readSync(v), ref.readSync(r));
    assert.throws(() => cpu.upload(data, "float64"), /stores float32 only/);
    assert.throws(() => cpu.alloc(3, "float64"), TypeError);
  });

  it("read() resolves to what readSync returns", async () => {
    const v: View = makeView(cpu, [5], contiguousLayout(1), values(5, 2));
    assert.deepEqual(await cpu.read(v), cpu.readSync(v));
  });

  it("a freed storage cannot be used again (a clear error, not a stray read)", () => {
    const s = cpu.upload([1, 2, 3], "float32");
    cpu.free(s);
    cpu.free(s); // twice is harmless
    assert.throws(() => cpu.readSync({ storage: s, shape: [3], strides: [1], offset: 0 }), /used after free/);
  });
});
