// The cpu backend's kernels other than elementwise, held to the reference backend on random shapes
// (0-size dims too), layouts (permuted, sliced, reversed, broadcast, offset) and special values,
// each on one thread and on the pool (thresholds lowered). Tolerances: sums accumulate in float64
// like the reference, in another order (≤ 1 ulp + n·2⁻⁵⁰·Σ|x|); max and min are exact; fused rows
// within a few float32 ulps of their magnitudes (stated per test). Indexing, random: cpuIndexing.test.ts.
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Backend } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { referenceBackend as ref } from "../../src/core/backends/reference.ts";
import {
  assertClose,
  contiguousLayout,
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

const rowsOf = (shape: number[]) => {
  const d = shape.length === 0 ? 1 : shape[shape.length - 1];
  return { d, n: d === 0 ? 0 : size(shape) / d };
};

/** Σ|x| over each row of the reduced axes moved last (for the summation tolerance). */
function absSums(x: Float32Array, shape: number[], axes: number[]): Float64Array {
  const keep = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const outShape = keep.map((d) => shape[d]);
  const out = new Float64Array(size(outShape));
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (const d of keep) o = o * shape[d] + idx[d];
    out[o] += Math.abs(x[i]);
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return out;
}

const axesArb = (rank: number) =>
  fc.subarray(
    Array.from({ length: rank }, (_, i) => i),
    { minLength: 0 },
  );

describe("cpu reduce", () => {
  it("sum, max and min agree with the reference on any layout and axes (max/min exactly, ±0 and NaN included)", () => {
    fc.assert(
      fc.property(
        shapeArb(4, 7).chain((s) =>
          fc.tuple(fc.constant(s), layoutArb(s.length, { broadcast: true }), axesArb(s.length)),
        ),
        fc.constantFrom("sum" as const, "max" as const, "min" as const),
        fc.integer(),
        fc.boolean(),
        fc.boolean(),
        ([shape, layout, axes], op, seed, specials, pooled) => {
          const data = values(storageSize(shape, layout), seed, { specials });
          const [xr, xc] = both(shape, layout, data);
          const n = size(shape.filter((_, d) => !axes.includes(d)));
          let res: Float32Array[] = [];
          paths(pooled, () => {
            res = targets(n, (b, t, k) => b.reduce(op, k === 0 ? xr : xc, axes, t));
          });
          if (op !== "sum") return assertClose(res[1], res[0], `${op} over ${axes} of ${JSON.stringify(shape)}`);
          const abs = absSums(ref.readSync(xr) as Float32Array, shape, axes);
          const count = size(axes.map((a) => shape[a]));
          assertClose(res[1], res[0], `sum over ${axes}`, (i, w) => ulp(w) + count * 2 ** -50 * (abs[i - 3] ?? 0));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("max and min of rows holding ±0 keep the first zero's sign, and NaN anywhere wins (rows, columns, partials)", () => {
    const rows = [
      [0, -0],
      [-0, 0],
      [-1, -0, 0, -3],
      [-2, 0, -0],
      [0, 0, 0, 0, 0, -0],
      [-0, -0, -0, -0, -0, 0, 0],
      [1, 0, -0, Number.NaN],
      [-0, -5, Number.NaN, 0, 0, 0, 0, 0],
      // the first zero in a later SIMD lane than a zero of the other sign
      [-1, -0, -1, -1, 0, -1, -1, -1],
      [-1, 0, -1, -1, -0, -1, -1, -1, -2],
    ];
    for (const row of rows)
      for (const sign of [1, -1]) {
        const values = row.map((v) => v * sign); // min of the negated row is the max case mirrored
        // Element (i, j) of each layout is values[k] along the reduced axis, each value repeated
        // `reps` times in a row (so that partial sums split the reduced axis between them).
        for (const [shape, axes, reps] of [
          [[1, values.length], [1], 1], // a row
          [[values.length, 1], [0], 1], // a column
          [[3, values.length * 1000], [1], 1000], // long rows: partials
          [[values.length * 1000, 2], [0], 1000], // few columns: partials
        ] as [number[], number[], number][]) {
          const data = new Float32Array(size(shape));
          for (let i = 0; i < shape[0]; i++)
            for (let j = 0; j < shape[1]; j++) {
              const along = axes[0] === 1 ? j : i;
              data[i * shape[1] + j] = values[Math.floor(along / reps)];
            }
          for (const pooled of [false, true])
            paths(pooled, () => {
              for (const op of ["max", "min"] as const) {
                const [xr, xc] = both(shape, contiguousLayout(2), data);
                const n = size(shape.filter((_, d) => !axes.includes(d)));
                const res = targets(n, (b, t, k) => b.reduce(op, k === 0 ? xr : xc, axes, t));
                assertClose(res[1], res[0], `${op} of ${JSON.stringify(values)} as ${JSON.stringify(shape)}`);
              }
            });
        }
      }
  });

  it("long rows and few columns split the reduced axis over the threads (partials), and still agree", () => {
    for (const [shape, axes] of [
      [[3, 20000], [1]],
      [[20000, 3], [0]],
      [[2, 5000, 3], [1]],
      [[40000], [0]],
    ] as [number[], number[]][]) {
      const data = values(size(shape), size(shape), { specials: false });
      const l = contiguousLayout(shape.length);
      for (const op of ["sum", "max", "min"] as const) {
        paths(true, () => {
          const [xr, xc] = both(shape, l, data);
          const n = size(shape.filter((_, d) => !axes.includes(d)));
          const res = targets(n, (b, t, k) => b.reduce(op, k === 0 ? xr : xc, axes, t));
          assertClose(res[1], res[0], `${op} ${JSON.stringify(shape)} over ${axes}`, (_, w) => 2 * ulp(w) + 1e-9);
        });
      }
    }
  });
});

describe("cpu softmax and layer norm", () => {
  const rowsCase = shapeArb(3, 9, 1).chain((s) => fc.tuple(fc.constant(s), layoutArb(s.length), layoutArb(s.length)));

  it("softmax agrees within 4 ulp + |x − max|·2⁻²⁴ relative (x − max rounds in float32), its backward pass within 2 ulp + summation", () => {
    fc.assert(
      fc.property(rowsCase, fc.integer(), fc.boolean(), fc.boolean(), ([shape, l1, l2], seed, specials, pooled) => {
        const [xr, xc] = both(shape, l1, values(storageSize(shape, l1), seed, { specials, scale: 4 }));
        const [gr, gc] = both(shape, l2, values(storageSize(shape, l2), seed + 1));
        paths(pooled, () => {
          const y = targets(size(shape), (b, t, k) => b.softmax(k === 0 ? xr : xc, t));
          const x = ref.readSync(xr) as Float32Array;
          const { d } = rowsOf(shape);
          const spread = (i: number) => {
            const r = Math.floor((i - 3) / d);
            const row = x.subarray(r * d, (r + 1) * d);
            const m = row.reduce((a, v) => (v > a ? v : a), -Infinity);
            return Math.abs(x[i - 3] - m);
          };
          assertClose(
            y[1],
            y[0],
            `softmax ${JSON.stringify(shape)}`,
            (i, w) => 4 * ulp(w) + w * spread(i) * 2 ** -24 + 2 ** -149,
          );
          // backward from the same y on both (the reference's), so only the kernel differs
          const yv = [ref, cpu].map((b) =>
            makeView(b, shape, contiguousLayout(shape.length), y[0].subarray(3, 3 + size(shape))),
          );
          const dx = targets(size(shape), (b, t, k) => b.softmaxBackward(yv[k], k === 0 ? gr : gc, t));
          // Σ dy·y is summed in another order (float64): its error scales with Σ|dy·y| of the row.
          const yy = y[0].subarray(3, 3 + size(shape));
          const g = ref.readSync(gr) as Float32Array;
          const rowAbs = (r: number) =>
            yy.subarray(r * d, (r + 1) * d).reduce((a, v, j) => a + Math.abs(v * g[r * d + j]), 0);
          assertClose(
            dx[1],
            dx[0],
            "softmaxBackward",
            (i, w) => 2 * ulp(w) + Math.abs(yy[i - 3]) * d * 2 ** -50 * rowAbs(Math.floor((i - 3) / d)) + 2 ** -149,
          );
        });
      }),
      { numRuns: 150 },
    );
  });

  it("layerNorm and its backward pass agree (out within 3 ulp of |x̂·w| + |b|; μ, r, dx, dw, db within 2 ulp + summation)", () => {
    fc.assert(
      fc.property(
        rowsCase,
        fc.integer(),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(1e-5, 1e-12, 0.1),
        ([shape, l1, l2], seed, pooled, masks, eps) => {
          const { d, n } = rowsOf(shape);
          const data = values(storageSize(shape, l1), seed, { scale: 3 });
          for (let i = 0; i < data.length; i += 5) data[i] += 10; // an offset mean
          const [xr, xc] = both(shape, l1, data);
          const [gr, gc] = both(shape, l2, values(storageSize(shape, l2), seed + 1));
          const w = values(d, seed + 2);
          const bias = values(d, seed + 3);
          const vec = (b: Backend, a: Float32Array) => makeView(b, [d], contiguousLayout(1), a);
          paths(pooled, () => {
            const stats: Float32Array[][] = [[], []];
            const out = targets(size(shape), (b, t, k) => {
              const mean = sentinelTarget(b, n);
              const rstd = sentinelTarget(b, n);
              b.layerNorm(k === 0 ? xr : xc, vec(b, w), vec(b, bias), eps, t, mean, rstd);
              stats[k] = [readAll(b, mean), readAll(b, rstd)];
            });
            const scale = (i: number) => {
              const j = (i - 3) % Math.max(d, 1);
              return Math.abs(out[0][i] - bias[j]) + Math.abs(bias[j]);
            };
            assertClose(out[1], out[0], `layerNorm ${JSON.stringify(shape)}`, (i) => 3 * ulp(scale(i)));
            assertClose(stats[1][0], stats[0][0], "mean", (_, v) => ulp(v) + 1e-6 * ulp(10));
            assertClose(stats[1][1], stats[0][1], "rstd", (_, v) => 2 * ulp(v));
            // backward from the reference's statistics on both
            const st = [ref, cpu].map((b) =>
              stats[0].map((s) =>
                makeView(b, shape.slice(0, -1), contiguousLayout(shape.length - 1), s.subarray(3, 3 + n)),
              ),
            );
            const grads = [0, 1, 2].map(() => new Array<Float32Array>(2));
            [ref, cpu].forEach((b, k) => {
              const [dx, dw, db] = [sentinelTarget(b, size(shape)), sentinelTarget(b, d), sentinelTarget(b, d)];
              b.layerNormBackward(
                k === 0 ? gr : gc,
                k === 0 ? xr : xc,
                vec(b, w),
                st[k][0],
                st[k][1],
                masks ? null : dx,
                dw,
                masks ? null : db,
              );
              [dx, dw, db].forEach((t, g) => {
                grads[g][k] = readAll(b, t);
              });
            });
            assertClose(grads[0][1], grads[0][0], "dx", (_, v) => 2 * ulp(v) + 1e-6);
            assertClose(grads[1][1], grads[1][0], "dweight", (_, v) => 2 * ulp(v) + n * 1e-6);
            assertClose(grads[2][1], grads[2][0], "dbias", (_, v) => 2 * ulp(v) + n * 1e-6);
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** Σ_p |a[t,i,p]·b[t,p,j]| per output, from row-major operands (the GEMM's error scale). */
function absProducts(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++)
        for (let j = 0; j < n; j++)
          out[(t * m + i) * n + j] += Math.abs(a[(t * m + i) * k + p] * b[(t * k + p) * n + j]);
  return out;
}

describe("cpu matmul", () => {
  const dims = fc.tuple(
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }),
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 40 }),
  );
  const problem = dims.chain(([batch, m, k, n]) => {
    const rank = batch.length + 2;
    // stride-0 broadcasts only over the batch dims
    const layout = layoutArb(rank, { broadcast: true }).map((l) => ({
      ...l,
      broadcast: l.broadcast.map((b, d) => b && d < batch.length),
    }));
    return fc.tuple(fc.constant([batch, m, k, n] as const), layout, layout);
  });

  it("agrees with the reference on transposed, sliced, reversed and broadcast batch operands", () => {
    fc.assert(
      fc.property(
        problem,
        fc.integer(),
        fc.boolean(),
        fc.boolean(),
        ([[batch, m, k, n], la, lb], seed, specials, pooled) => {
          const sa = [...batch, m, k];
          const sb = [...batch, k, n];
          // Magnitudes ≤ 1e17, so that no float32 partial sum overflows where the reference's float64 does not.
          const operand = (count: number, s: number) =>
            values(count, s, { specials, scale: 1 }).map((v) =>
              Number.isFinite(v) ? Math.max(-1e17, Math.min(1e17, v)) : v,
            );
          const [ar, ac] = both(sa, la, operand(storageSize(sa, la), seed));
          const [br, bc] = both(sb, lb, operand(storageSize(sb, lb), seed + 1));
          const abs = absProducts(
            ref.readSync(ar) as Float32Array,
            ref.readSync(br) as Float32Array,
            size(batch),
            m,
            k,
            n,
          );
          paths(pooled, () => {
            const res = targets(size(batch) * m * n, (b, t, i) => b.matmul(i === 0 ? ar : ac, i === 0 ? br : bc, t));
            assertClose(
              res[1],
              res[0],
              `matmul ${JSON.stringify([batch, m, k, n])}`,
              (i, w) => ulp(w) + (k + 2) * 2 ** -23 * (abs[i - 3] ?? 0),
            );
          });
        },
      ),
      { numRuns: 120 },
    );
  });
});
