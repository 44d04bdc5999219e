// Test helpers for holding backends to the reference through the public API: run code on a named
// backend, generate operands as strided views (permuted, sliced with steps, reversed, broadcast,
// offset) filled with special values, and compare results with NaN, ±Infinity and ulps in mind.

import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { generator, type Fill } from "./conformanceOperands.ts";

export { generator, integersBelow, type Fill } from "./conformanceOperands.ts";

/** Runs f with `name` as the backend: tensors made inside live there and ops run there. */
export const onBackend = <R>(name: string, f: () => R): R => {
  const prev = T.backend().name;
  T.setBackend(name);
  try {
    return f();
  } finally {
    T.setBackend(prev);
  }
};

/** The backends to hold to the reference: cpu and every gpu.js mode that runs here as itself. */
export function backendsUnderTest(): string[] {
  const warn = console.warn;
  console.warn = () => {}; // an unavailable gpu.js mode falls back with a warning: probing is not using
  try {
    return T.availableBackends().filter((name) => {
      if (name === "reference" || name === "gpujs") return false; // "gpujs" is one of the named modes
      try {
        return onBackend(name, () => T.backend().name) === name;
      } catch {
        return false;
      }
    });
  } finally {
    console.warn = warn;
  }
}

// ---- Values ----

/** Values that break careless kernels: NaN, ±Infinity, ±0, float32's largest and subnormal magnitudes. */
export const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-40, -1e-40, 1e-45, 1.2e-38] as const;
/** SPECIALS without the huge finite ones (sums and products of those overflow in an order-dependent way). */
export const SPECIALS_NO_HUGE = SPECIALS.filter((v) => Math.abs(v) !== 3e38);

/** Mostly uniform in [-3, 3], some small integers (ties), and `specials` sprinkled in (rate `rate`). */
export const values =
  (specials: readonly number[] = SPECIALS, rate = 0.12): Fill =>
  (random) => {
    const u = random();
    if (u < rate) return specials[Math.floor(random() * specials.length)];
    return u < rate + 0.2 ? Math.round(random() * 6 - 3) : random() * 6 - 3;
  };

// ---- Operands: a shape and how it lies in its buffer ----

/** Dim order in memory (outermost first), a step per dim (2: every other, -1: reversed), broadcast dims, leading slack. */
export interface Layout {
  order: number[];
  steps: number[];
  broadcast: boolean[];
  lead: number;
}

/** A recipe for a tensor, made again on each backend: its shape, layout and buffer contents (from a seed). */
export interface Operand {
  shape: readonly number[];
  layout: Layout;
  seed: number;
  fill: Fill;
}

const DIMS = [1, 2, 3, 5, 7] as const;
/** Dims from a small odd-sized pool (gpu.js compiles per shape), with 0 now and then. */
export const nonEmptyDimArb = fc.constantFrom(...DIMS);
export const dimArb = fc.oneof({ weight: 12, arbitrary: nonEmptyDimArb }, { weight: 1, arbitrary: fc.constant(0) });
export const shapeArb = (minRank: number, maxRank: number, dim: fc.Arbitrary<number> = dimArb) =>
  fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** One layout in three is plain row-major (at an offset): fast paths for contiguous data need cases too. */
export const layoutArb = (rank: number, broadcast = true): fc.Arbitrary<Layout> => {
  const lead = fc.integer({ min: 0, max: 3 });
  const rowMajor = lead.map((l) => ({
    order: [...Array(rank).keys()],
    steps: new Array<number>(rank).fill(1),
    broadcast: new Array<boolean>(rank).fill(false),
    lead: l,
  }));
  const strided = fc.record({
    order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
    steps: fc.array(fc.constantFrom(1, 1, 1, 2, -1, -2), { minLength: rank, maxLength: rank }),
    broadcast: fc.array(broadcast ? fc.boolean() : fc.constant(false), { minLength: rank, maxLength: rank }),
    lead,
  });
  return fc.oneof({ weight: 1, arbitrary: rowMajor }, { weight: 2, arbitrary: strided });
};

export const operandArb = (shape: readonly number[], fill: Fill = values(), broadcast = true): fc.Arbitrary<Operand> =>
  fc.record({ layout: layoutArb(shape.length, broadcast), seed: fc.integer() }).map(({ layout, seed }) => ({
    shape,
    layout,
    seed,
    fill,
  }));

/** A shape that broadcasts against `shape`: some leading dims dropped, some dims turned into 1. */
export const broadcastableArb = (shape: readonly number[]): fc.Arbitrary<number[]> =>
  fc
    .tuple(
      fc.integer({ min: 0, max: shape.length }),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
    )
    .map(([drop, ones]) => shape.map((d, i) => (ones[i] ? 1 : d)).slice(drop));

/**
 * The operand as a tensor on the current backend, built with public ops only: a flat buffer, sliced
 * past `lead`, reshaped to the dims in memory order, permuted to logical order, sliced with the
 * steps, and broadcast (stride 0) on the broadcast dims.
 */
export function materialize(op: Operand): T.Tensor {
  const { shape, layout } = op;
  const extent = shape.map((n, d) => (layout.broadcast[d] ? 1 : n * Math.abs(layout.steps[d])));
  const physical = extent.reduce((a, b) => a * b, 1);
  const random = generator(op.seed);
  const buffer = Array.from({ length: layout.lead + physical + 2 }, () => op.fill(random));
  let t = T.slice(T.fromArray(buffer, [buffer.length]), [{ start: layout.lead, stop: layout.lead + physical }]);
  t = T.reshape(
    t,
    layout.order.map((d) => extent[d]),
  );
  t = T.permute(
    t,
    shape.map((_, d) => layout.order.indexOf(d)),
  );
  t = T.slice(
    t,
    layout.steps.map((s, d) => (layout.broadcast[d] ? null : { step: s })),
  );
  return T.broadcastTo(t, shape);
}

export const describe = (op: Operand): string =>
  `[${op.shape}] order [${op.layout.order}] steps [${op.layout.steps}] broadcast [${op.layout.broadcast.map(Number)}] lead ${op.layout.lead}`;

// ---- Comparison ----

/** The smallest float32 subnormal: the absolute rounding step of results below 2^-126. */
export const TINY = 2 ** -149;

/**
 * Element-wise: NaN where NaN, ±Infinity exactly, else |got - want| <= tol · scale + atol (scale:
 * |want|, or Σ|terms| for sums and dot products; atol a few subnormal steps). tol 0: exactly equal (±0 equal).
 */
export function assertNear(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  tol = 0,
  scale: ArrayLike<number> = Array.from(want, Math.abs),
  atol = 4 * TINY,
): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    const ok = Number.isNaN(w)
      ? Number.isNaN(g)
      : !Number.isFinite(w) || tol === 0
        ? g === w
        : Math.abs(g - w) <= tol * scale[i] + atol;
    assert.ok(ok, `${what}[${i}]: got ${g}, expected ${w}`);
  }
}

// ---- Loop definitions of gather and scatterAdd, on row-major arrays ----

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The flat row-major offset of `at` with dim `axis` replaced by `i`, in an array of `shape`. */
function offsetOf(shape: readonly number[], at: readonly number[], axis: number, i: number): number {
  return at.reduce((o, v, d) => o * shape[d] + (d === axis ? i : v), 0);
}

/** Every multi-index of `shape`, row-major. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const at = shape.map(() => 0);
  for (let n = 0; n < size(shape); n++) {
    yield at;
    for (let d = shape.length - 1; d >= 0 && ++at[d] === shape[d]; d--) at[d] = 0;
  }
}

/** out[p] = x[p with index[p] on `axis`] (numpy take_along_axis), by loops. */
export function gatherByLoops(
  x: ArrayLike<number>,
  xShape: readonly number[],
  index: ArrayLike<number>,
  indexShape: readonly number[],
  axis: number,
): number[] {
  const out: number[] = [];
  for (const at of indices(indexShape)) out.push(x[offsetOf(xShape, at, axis, index[out.length])]);
  return out;
}

/**
 * base, then base[p with index[p] on `axis`] += src[p] for every p (repeats add up), by loops in
 * float64; `scale` is Σ|terms| per element, for the tolerance.
 */
export function scatterAddByLoops(
  base: ArrayLike<number>,
  baseShape: readonly number[],
  index: ArrayLike<number>,
  src: ArrayLike<number>,
  srcShape: readonly number[],
  axis: number,
): { values: number[]; scale: number[] } {
  const values = Array.from(base);
  const scale = values.map(Math.abs);
  let p = 0;
  for (const at of indices(srcShape)) {
    const o = offsetOf(baseShape, at, axis, index[p]);
    values[o] += src[p];
    scale[o] += Math.abs(src[p]);
    p++;
  }
  return { values, scale };
}
