// Test helpers for the tensor DSL: fast-check generators of shapes and tensors, and value assertions.

import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { ShapeError } from "../../src/core/index.ts";

export const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Shapes of rank minRank..maxRank with dims 1..maxDim (size-1 dims included). */
export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 3, minDim = 1): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast to `out`: each drops some leading dims and turns some dims into 1. */
export const broadcastPairArb = (minRank = 0, maxRank = 3): fc.Arbitrary<[number[], number[]]> =>
  shapeArb(minRank, maxRank).chain((out) => {
    const operand = fc
      .tuple(
        fc.integer({ min: 0, max: out.length }),
        fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
      )
      .map(([drop, ones]) => out.map((d, i) => (ones[i] ? 1 : d)).slice(drop));
    return fc.tuple(operand, operand);
  });

/** Values from a smooth range, kept in float32 exactly so float32 and float64 runs see the same inputs. */
export const valuesArb = (n: number, min = -2, max = 2): fc.Arbitrary<number[]> =>
  fc.array(fc.double({ min, max, noNaN: true }).map(Math.fround), { minLength: n, maxLength: n });

/** Values at least `gap` away from 0 (for abs, relu, selu: no finite difference across the kink). */
export const awayFromZeroArb = (n: number, gap = 0.05, max = 2): fc.Arbitrary<number[]> =>
  fc.array(
    fc.tuple(fc.double({ min: gap, max, noNaN: true }), fc.boolean()).map(([m, neg]) => Math.fround(neg ? -m : m)),
    { minLength: n, maxLength: n },
  );

/**
 * Values on one of two interleaved lattices (phase 0 or 1): a value of phase 0 and one of phase 1
 * are never closer than 0.02, so maximum/minimum never meet a tie within a finite-difference step.
 */
export const latticeArb = (n: number, phase: 0 | 1): fc.Arbitrary<number[]> =>
  fc.array(
    fc
      .tuple(fc.integer({ min: -8, max: 8 }), fc.double({ min: 0, max: 0.08, noNaN: true }))
      .map(([k, u]) => Math.fround(k * 0.2 + phase * 0.1 + u)),
    { minLength: n, maxLength: n },
  );

/** Pairwise distinct values (at least 0.1 apart): max/min reductions never tie. */
export const distinctArb = (n: number): fc.Arbitrary<number[]> =>
  fc
    .uniqueArray(fc.integer({ min: -40, max: 40 }), { minLength: n, maxLength: n })
    .map((v) => v.map((k) => Math.fround(k * 0.1 + 0.013)));

/** A tensor of the given shape with values from `values(n)`. */
export const tensorArb = (
  shape: readonly number[],
  values: (n: number) => fc.Arbitrary<number[]> = valuesArb,
): fc.Arbitrary<T.Tensor> => values(size(shape)).map((v) => T.fromArray(v, shape));

/** An axis list for a reduction of rank r: all (undefined), one axis (maybe negative), or a subset. */
export const axesArb = (rank: number): fc.Arbitrary<number | number[] | undefined> => {
  const all = Array.from({ length: rank }, (_, i) => i);
  const options: fc.Arbitrary<number | number[] | undefined>[] = [fc.constant(undefined), fc.subarray(all)];
  if (rank > 0) options.push(fc.integer({ min: -rank, max: rank - 1 }));
  return fc.oneof(...options);
};

/** Fixed, varied weights (a non-trivial cotangent) for an output of n elements. */
export const weights = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.cos(1.7 * i + 0.3) + 0.25);

/** Asserts element-wise closeness, treating NaN as equal to NaN and ±Infinity exactly. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
        ? a === e
        : Math.abs(a - e) <= tol * Math.max(1, Math.abs(e));
    assert.ok(ok, `${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
  }
}

/** Asserts that f throws `cls` whose message contains every fragment. */
export function assertThrowsWith(f: () => unknown, cls: new (...a: never[]) => Error, ...fragments: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(
      e instanceof cls,
      `expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
    );
    for (const part of fragments) assert.ok(e.message.includes(part), `"${e.message}" should mention "${part}"`);
    return true;
  });
}

export const throwsShape = (f: () => unknown, ...fragments: string[]): void =>
  assertThrowsWith(f, ShapeError, ...fragments);
