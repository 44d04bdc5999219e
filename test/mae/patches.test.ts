// patchify/unpatchify (HF's patch order, SPEC.md §10) and the fixed sin-cos position tables with their
// bicubic resize (SPEC.md §2, §13), against hand-computed values, the formula and HF's stored tables.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import {
  bicubicMatrix,
  interpolateDecoderTable,
  interpolateEncoderTable,
  patchify,
  sinCosTable,
  unpatchify,
} from "../../src/mae/index.ts";
import { loadReferenceCase, maxAbsDiff, referenceCaseNames, values } from "../helpers/reference.ts";
import { throwsShape } from "../helpers/tensors.ts";

/** B, C, patch [ph, pw] (often non-square) and grid [gh, gw] (often non-square). */
const geometryArb = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 3 }),
  ph: fc.integer({ min: 1, max: 4 }),
  pw: fc.integer({ min: 1, max: 4 }),
  gh: fc.integer({ min: 1, max: 4 }),
  gw: fc.integer({ min: 1, max: 4 }),
});
const iota = (shape: number[]) =>
  T.fromArray(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
    shape,
  );

test("unpatchify ∘ patchify and patchify ∘ unpatchify are the identity (random B, C, H, W, [ph, pw])", () => {
  fc.assert(
    fc.property(geometryArb, ({ b, c, ph, pw, gh, gw }) => {
      const pixels = iota([b, c, gh * ph, gw * pw]);
      const patches = patchify(pixels, [ph, pw]);
      assert.deepEqual(patches.shape, [b, gh * gw, ph * pw * c]);
      assert.deepEqual(unpatchify(patches, [ph, pw], [gh, gw], c).toNested(), pixels.toNested());
      const rows = iota([b, gh * gw, ph * pw * c]);
      assert.deepEqual(patchify(unpatchify(rows, [ph, pw], [gh, gw], c), [ph, pw]).toNested(), rows.toNested());
    }),
    { numRuns: 80 },
  );
});

test("patchify's order: patches row-major over the grid; inside a patch (row, col, channel fastest)", () => {
  fc.assert(
    fc.property(geometryArb, ({ b, c, ph, pw, gh, gw }) => {
      const [h, w] = [gh * ph, gw * pw];
      const pixels = iota([b, c, h, w]); // value = flat index of (bi, ch, y, x)
      const got = patchify(pixels, [ph, pw]).toArray();
      const l = gh * gw;
      const dim = ph * pw * c;
      for (let bi = 0; bi < b; bi++)
        for (let i = 0; i < gh; i++)
          for (let j = 0; j < gw; j++)
            for (let r = 0; r < ph; r++)
              for (let s = 0; s < pw; s++)
                for (let ch = 0; ch < c; ch++) {
                  const expected = ((bi * c + ch) * h + i * ph + r) * w + j * pw + s;
                  assert.equal(got[(bi * l + i * gw + j) * dim + (r * pw + s) * c + ch], expected);
                }
    }),
    { numRuns: 30 },
  );
});

test("patchify / unpatchify name the bad shape", () => {
  throwsShape(() => patchify(T.zeros([1, 3, 10, 8]), [4, 4]), "10x8", "4x4");
  throwsShape(() => patchify(T.zeros([3, 8, 8]), [4, 4]), "[B, C, H, W]");
  throwsShape(() => unpatchify(T.zeros([1, 4, 47]), [4, 4], [2, 2], 3), "[B, 4, 48]");
});

// ---- sin-cos tables ----

/** SPEC.md §2 written out again here: row 1+i·gw+j = [sin(jω), cos(jω), sin(iω), cos(iω)], rounded to float32. */
function formulaRow(dim: number, i: number, j: number): number[] {
  const q = dim / 4;
  const omega = Array.from({ length: q }, (_, k) => 10000 ** (-k / q));
  return [
    ...omega.map((o) => Math.sin(j * o)),
    ...omega.map((o) => Math.cos(j * o)),
    ...omega.map((o) => Math.sin(i * o)),
    ...omega.map((o) => Math.cos(i * o)),
  ].map(Math.fround);
}

test("sin-cos table: CLS row zero, every value in [-1, 1], non-square grids follow the formula (row 1+i·gw+j)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }).map((k) => 4 * k),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 6 }),
      (dim, gh, gw) => {
        const table = sinCosTable(dim, gh, gw);
        assert.deepEqual(table.shape, [1 + gh * gw, dim]);
        const rows = table.toNested() as number[][];
        assert.ok(
          rows[0].every((v) => v === 0),
          "row 0 (CLS) is all zeros",
        );
        assert.ok(
          rows.every((r) => r.every((v) => Math.abs(v) <= 1)),
          "sin and cos are bounded by 1",
        );
        for (let i = 0; i < gh; i++)
          for (let j = 0; j < gw; j++) {
            const want = formulaRow(dim, i, j);
            const got = rows[1 + i * gw + j];
            assert.ok(
              maxAbsDiff(got, want) <= 1e-7,
              `row (${i}, ${j}) of a ${gh}x${gw} table, dim ${dim}: ${got} vs ${want}`,
            );
          }
      },
    ),
    { numRuns: 40 },
  );
});

test("sin-cos table: the first half uses the column j (MAE's h/w swap), hand-checked on a 1x2 grid", () => {
  const rows = sinCosTable(4, 1, 2).toNested() as number[][]; // ω = [1]
  assert.deepEqual(rows[1], [0, 1, 0, 1]); // (i, j) = (0, 0)
  assert.deepEqual(rows[2], [Math.fround(Math.sin(1)), Math.fround(Math.cos(1)), 0, 1]); // (0, 1): j in the first half
});

test("sin-cos table: a width not divisible by 4 is refused by name", () => {
  throwsShape(() => sinCosTable(6, 2, 2), "6", "divisible by 4");
});

test("square-grid tables equal HF's stored position_embeddings and decoder_pos_embed (within 1e-7)", () => {
  const names = referenceCaseNames();
  assert.ok(names.length > 0, "no reference cases found");
  for (const name of names) {
    const c = loadReferenceCase(name);
    const [gh, gw] = c.config.gridSize;
    for (const [param, dim] of [
      ["vit.embeddings.position_embeddings", c.config.hiddenSize],
      ["decoder.decoder_pos_embed", c.config.decoderHiddenSize],
    ] as const) {
      const stored = c.model.get(param)!;
      assert.deepEqual(stored.shape, [1, 1 + gh * gw, dim], `${name}: ${param} shape`);
      const diff = maxAbsDiff(sinCosTable(dim, gh, gw).toArray(), values(stored));
      assert.ok(diff <= 1e-7, `${name}: ${param} differs from sinCosTable by ${diff}`);
    }
  }
});

// ---- bicubic resize (PyTorch, align_corners=False, A = -0.75) ----

test("bicubicMatrix: PyTorch's values on [0, 1] resized to 4 (computed by hand), identity at the same size, rows sum to 1", () => {
  // Upsampling [0, 1] to 4: taps clamped at the edges give [-0.10546875, 0.2265625, 0.7734375, 1.10546875].
  const out = T.matmul(bicubicMatrix(2, 4), T.fromArray([0, 1], [2, 1])).toArray();
  assert.deepEqual([...out], [-0.10546875, 0.2265625, 0.7734375, 1.10546875]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), (n, m) => {
      const rows = bicubicMatrix(n, m).toNested() as number[][];
      rows.forEach((r, o) =>
        assert.ok(Math.abs(r.reduce((a, v) => a + v, 0) - 1) < 1e-6, `row ${o} of ${n}→${m} sums to 1`),
      );
      if (n === m) assert.deepEqual(rows, T.eye(n).toNested() as number[][], "same size: identity");
    }),
  );
});

test("interpolated tables: the CLS row is kept, a constant table stays constant, the same grid is unchanged", () => {
  const d = 8;
  const table = T.add(T.zeros([1 + 9, d]), 0.5);
  const enc = interpolateEncoderTable(table, [3, 3], [5, 2]);
  assert.deepEqual(enc.shape, [1 + 10, d]);
  assert.ok(maxAbsDiff(enc.toArray(), new Array(11 * d).fill(0.5)) < 1e-6);
  const dec = interpolateDecoderTable(table, 18);
  assert.deepEqual(dec.shape, [1 + 18, d]);
  assert.ok(maxAbsDiff(dec.toArray(), new Array(19 * d).fill(0.5)) < 1e-6);
  const st = sinCosTable(d, 3, 3);
  assert.deepEqual(interpolateEncoderTable(st, [3, 3], [3, 3]).toNested(), st.toNested());
  assert.deepEqual(
    (interpolateEncoderTable(st, [3, 3], [4, 4]).toNested() as number[][])[0],
    new Array(d).fill(0),
    "CLS row kept",
  );
});
