// The gpu.js backend against the reference backend: every kernel in each gpu.js mode available here,
// on random strided views (odd sizes, broadcast, transposed, reversed, sliced), plus mode fallback.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BINARY_OPS,
  UNARY_OPS,
  backend,
  referenceBackend,
  setBackend,
  withFloat64,
  type Storage,
  type View,
} from "../../src/core/backend.ts";
import "../../src/core/backends/reference.ts";
import { scatterAddByLoops } from "../helpers/backends.ts";
import {
  GPUJS_MODES,
  bestGpujsMode,
  gpujsBackend,
  gpujsMode,
  isGpujsModeAvailable,
  softmaxByPrimitives,
} from "../../src/core/backends/gpujs.ts";

const ref = referenceBackend();
// "gpu" resolves to one of the GL modes, which are tested under their own names where they exist.
const MODES = GPUJS_MODES.filter((m) => m !== "gpu" && isGpujsModeAvailable(m));
// gpu.js compiles each new shape signature (tens of ms): few runs, dims from a small odd-sized pool.
const RUNS = { numRuns: 20, includeErrorInReport: true };
const prop = <A>(arb: fc.Arbitrary<A>, check: (a: A) => void) => fc.assert(fc.property(arb, check), RUNS);

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---- Random strided views ----

/** How a view lies in its buffer: dim order in memory, a step per dim (2: every other, -1: reversed), broadcast dims, leading slack. */
interface Layout {
  order: number[];
  steps: number[];
  broadcast: boolean[];
  lead: number;
}

const dimArb = fc.constantFrom(1, 2, 3, 7, 17);
const shapeArb = (minRank: number, maxRank: number) => fc.array(dimArb, { minLength: minRank, maxLength: maxRank });
const layoutArb = (rank: number, broadcast = true): fc.Arbitrary<Layout> =>
  fc.record({
    order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
    steps: fc.array(fc.constantFrom(1, 1, 2, -1), { minLength: rank, maxLength: rank }),
    broadcast: fc.array(broadcast ? fc.boolean() : fc.constant(false), { minLength: rank, maxLength: rank }),
    lead: fc.integer({ min: 0, max: 3 }),
  });

/** Values: mostly uniform in [-3, 3], some integers, and NaN, ±Infinity and ±0 sprinkled in when `specials`. */
type Fill = (random: () => number) => number;
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0];
const values =
  (specials = true): Fill =>
  (random) => {
    const u = random();
    if (specials && u < 0.06) return SPECIALS[Math.floor(random() * SPECIALS.length)];
    return u < 0.2 ? Math.round(random() * 6 - 3) : random() * 6 - 3;
  };
const integersBelow =
  (n: number): Fill =>
  (random) =>
    Math.floor(random() * n);

/** A small seeded generator (mulberry32), so fast-check shrinks seeds and shapes rather than long arrays. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A view of `shape` laid out per `layout` in a fresh buffer filled from `seed` (unreached slots filled too). */
function view(
  shape: readonly number[],
  layout: Layout,
  seed: number,
  fill: Fill = values(),
  Storage: typeof Float32Array | typeof Float64Array = Float32Array,
): View {
  const extent = shape.map((n, d) => (layout.broadcast[d] ? 1 : n * Math.abs(layout.steps[d])));
  const physical = new Array<number>(shape.length);
  let acc = 1;
  for (let k = layout.order.length - 1; k >= 0; k--) {
    physical[layout.order[k]] = acc;
    acc *= extent[layout.order[k]];
  }
  let offset = layout.lead;
  const strides = shape.map((n, d) => {
    if (layout.broadcast[d]) return 0;
    const s = physical[d] * layout.steps[d];
    if (s < 0) offset += (n - 1) * -s;
    return s;
  });
  const random = generator(seed);
  const buffer = new Storage(layout.lead + acc + 2).map(() => fill(random));
  return { buffer, shape, strides, offset };
}

const viewArb = (minRank: number, maxRank: number, broadcast = true) =>
  shapeArb(minRank, maxRank).chain((shape) =>
    fc.tuple(fc.constant(shape), layoutArb(shape.length, broadcast), fc.integer()),
  );

// ---- Comparison ----

/** |got - want| <= tol · scale (scale: |want|, or the sum of |terms| for sums and dot products); NaN and ±Infinity exact. */
function assertNear(
  got: Storage,
  want: Storage,
  what: string,
  tol: number,
  scale: ArrayLike<number> = want.map(Math.abs),
): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, expected ${want.length}`);
  assert.ok(
    got instanceof Float32Array || got instanceof Float64Array,
    `${what}: storage is ${Object.prototype.toString.call(got)}`,
  );
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    const ok = Number.isNaN(w)
      ? Number.isNaN(g)
      : !Number.isFinite(w)
        ? g === w
        : Math.abs(g - w) <= tol * Math.max(1e-3, scale[i]);
    assert.ok(ok, `${what}[${i}]: got ${g}, expected ${w}`);
  }
}

const contiguous = (shape: readonly number[], buffer: Storage): View => ({
  buffer,
  shape,
  strides: shape.map((_, d) => size(shape.slice(d + 1))),
  offset: 0,
});
const absolute = (v: View): View => contiguous(v.shape, ref.unary("abs", v));

const describeView = (v: View) => `shape [${v.shape}] strides [${v.strides}] offset ${v.offset}`;

// ---- Every kernel, in every available mode ----

for (const mode of MODES) {
  const g = gpujsBackend(mode);

  test(`${mode}: every unary and binary op and where match the reference on strided and broadcast views`, () => {
    prop(
      viewArb(0, 3).chain(([shape, la, sa]) =>
        fc.tuple(
          fc.constant(shape),
          fc.constant(la),
          fc.constant(sa),
          layoutArb(shape.length),
          fc.integer(),
          layoutArb(shape.length),
          fc.integer(),
        ),
      ),
      ([shape, la, sa, lb, sb, lc, sc]) => {
        const [x, y] = [view(shape, la, sa), view(shape, lb, sb)];
        const cond = view(shape, lc, sc, (random) => [0, 1, -2, NaN][Math.floor(random() * 4)]);
        const where = `on ${describeView(x)} and ${describeView(y)}`;
        for (const op of UNARY_OPS) assertNear(g.unary(op, x), ref.unary(op, x), `${op} ${where}`, 2e-6);
        for (const op of BINARY_OPS) assertNear(g.binary(op, x, y), ref.binary(op, x, y), `${op} ${where}`, 2e-6);
        assertNear(g.where(cond, x, y), ref.where(cond, x, y), `where ${where}`, 0);
        assertNear(g.copy(x), ref.copy(x), `copy ${where}`, 0);
      },
    );
  });

  test(`${mode}: sum, max and min over random axis sets match the reference`, () => {
    const arb = viewArb(0, 4).chain(([shape, l, s]) =>
      fc.tuple(fc.constant(shape), fc.constant(l), fc.constant(s), fc.subarray([...shape.keys()])),
    );
    prop(arb, ([shape, layout, seed, axes]) => {
      const x = view(shape, layout, seed);
      const what = `over [${axes}] of ${describeView(x)}`;
      assertNear(
        g.reduce("sum", x, axes),
        ref.reduce("sum", x, axes),
        `sum ${what}`,
        1e-5,
        ref.reduce("sum", absolute(x), axes),
      );
      assertNear(g.reduce("max", x, axes), ref.reduce("max", x, axes), `max ${what}`, 0);
      assertNear(g.reduce("min", x, axes), ref.reduce("min", x, axes), `min ${what}`, 0);
    });
  });

  test(`${mode}: batched matmul (broadcast batch, transposed operands) matches the reference`, () => {
    const arb = fc.tuple(shapeArb(0, 2), dimArb, dimArb, dimArb).chain(([batch, m, k, n]) => {
      const [sa, sb] = [
        [...batch, m, k],
        [...batch, k, n],
      ];
      return fc.tuple(
        fc.constant(sa),
        layoutArb(sa.length),
        fc.integer(),
        fc.constant(sb),
        layoutArb(sb.length),
        fc.integer(),
      );
    });
    prop(arb, ([sa, la, seedA, sb, lb, seedB]) => {
      const [a, b] = [view(sa, la, seedA), view(sb, lb, seedB)];
      const scale = ref.matmul(absolute(a), absolute(b));
      assertNear(g.matmul(a, b), ref.matmul(a, b), `matmul ${describeView(a)} @ ${describeView(b)}`, 1e-5, scale);
    });
  });

  test(`${mode}: softmax along any axis matches softmax composed of reference primitives`, () => {
    const arb = viewArb(1, 3).chain(([shape, l, s]) =>
      fc.tuple(fc.constant(shape), fc.constant(l), fc.constant(s), fc.integer({ min: 0, max: shape.length - 1 })),
    );
    prop(arb, ([shape, layout, seed, axis]) => {
      const x = view(shape, layout, seed);
      assertNear(
        g.softmax(x, axis),
        softmaxByPrimitives(ref, x, axis),
        `softmax axis ${axis} of ${describeView(x)}`,
        1e-5,
      );
    });
  });

  test(`${mode}: gather (takeAlongAxis) and scatterAdd match the reference`, () => {
    const arb = viewArb(1, 3).chain(([shape, l, s]) =>
      fc.tuple(
        fc.constant(shape),
        fc.constant(l),
        fc.constant(s),
        fc.integer({ min: 0, max: shape.length - 1 }),
        dimArb,
        layoutArb(shape.length),
        fc.integer(),
        layoutArb(shape.length, false),
      ),
    );
    prop(arb, ([shape, li, seedI, axis, nx, lx, seedX, lb]) => {
      const xShape = shape.map((d, i) => (i === axis ? nx : d));
      const index = view(shape, li, seedI, integersBelow(nx));
      const x = view(xShape, lx, seedX);
      const what = `axis ${axis} of ${describeView(x)} at ${describeView(index)}`;
      assertNear(g.gather(x, index, axis), ref.gather(x, index, axis), `gather ${what}`, 0);
      const base = view(xShape, lb, seedX + 1, values(false));
      const src = view(shape, li, seedI + 1, values(false));
      // Against the definition by loops: gpu.js's scatterAdd may be the reference's own.
      const rowMajor = (v: View) => ref.copy(v);
      const want = scatterAddByLoops(rowMajor(base), xShape, rowMajor(index), rowMajor(src), shape, axis);
      assertNear(
        g.scatterAdd(base, index, src, axis),
        Float32Array.from(want.values),
        `scatterAdd ${what}`,
        1e-6,
        want.scale,
      );
    });
  });

  test(`${mode}: size-0 dims give empty results, and empty reductions their identities`, () => {
    const empty = contiguous([2, 0, 3], new Float32Array(0));
    assert.equal(g.unary("exp", empty).length, 0);
    assert.equal(g.binary("add", empty, empty).length, 0);
    assert.deepEqual([...g.reduce("sum", empty, [1])], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...g.reduce("max", empty, [1])], new Array(6).fill(-Infinity));
    assert.deepEqual([...g.reduce("min", empty, [0, 1])], [Infinity, Infinity, Infinity]);
    // [2, 0] @ [0, 3]: zeros
    assert.deepEqual(
      [...g.matmul(contiguous([2, 0], new Float32Array(0)), contiguous([0, 3], new Float32Array(0)))],
      [0, 0, 0, 0, 0, 0],
    );
    assert.equal(g.softmax(empty, 2).length, 0);
  });

  test(`${mode}: float64 storage runs on the reference and stays float64`, () => {
    withFloat64(() => {
      const x = view(
        [3, 7],
        { order: [1, 0], steps: [1, -1], broadcast: [false, false], lead: 1 },
        5,
        values(false),
        Float64Array,
      );
      const y = g.unary("exp", x);
      assert.ok(y instanceof Float64Array);
      assert.deepEqual(y, ref.unary("exp", x));
      const half = contiguous([7, 2], new Float64Array(14).fill(0.5));
      assert.deepEqual(g.matmul(x, half), ref.matmul(x, half));
    });
  });

  test(`${mode}: offsets past 2^24 and dims past 2^23 are exact (float32 thread ids)`, () => {
    // a transposed 4099 x 4099 copy reaches element 16.8M (> 2^24); a flat 2^23 + 2 map splits into 2 x 4194305
    const n = 4099;
    const buffer = new Float32Array(n * n).map((_, i) => i % 8191);
    const t = { buffer, shape: [n, n], strides: [1, n], offset: 0 };
    assert.deepEqual(g.copy(t), ref.copy(t));
    const flat = { buffer, shape: [2 ** 23 + 2], strides: [1], offset: 3 };
    assert.deepEqual(g.unary("neg", flat), ref.unary("neg", flat));
  });
}

// ---- Mode selection ----

test("every gpu.js mode is selectable; an unavailable one falls back to the best with one warning naming both", (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  try {
    const best = bestGpujsMode();
    assert.ok(isGpujsModeAvailable(best) && isGpujsModeAvailable("cpu"));
    assert.equal(isGpujsModeAvailable("webgpu"), false, "webgpu kernels are asynchronous");
    for (const mode of GPUJS_MODES) {
      warn.mock.resetCalls();
      const b = setBackend(`gpujs:${mode}`);
      const active = gpujsMode();
      assert.equal(b.name, `gpujs:${active}`);
      if (isGpujsModeAvailable(mode)) {
        assert.equal(warn.mock.callCount(), 0, `${mode}: no warning`);
        if (mode !== "gpu") assert.equal(active, mode);
        else assert.ok(["headlessgl", "webgl2", "webgl"].includes(active!), `gpu ran as ${active}`);
      } else {
        assert.equal(active, best, `${mode} falls back to ${best}`);
        assert.equal(warn.mock.callCount(), 1, `${mode}: one warning`);
        assert.equal(warn.mock.calls[0].arguments[0], `gpu.js mode "${mode}" is not available here; using "${best}"`);
      }
    }
    warn.mock.resetCalls();
    setBackend("gpujs");
    assert.equal(gpujsMode(), best);
    assert.equal(warn.mock.callCount(), 0);
    setBackend("reference");
    assert.equal(gpujsMode(), undefined);
    assert.equal(backend().name, "reference");
  } finally {
    setBackend("reference");
  }
});
