// Holds a backend to the reference backend, kernel by kernel, on random strided views
// (conformanceOperands.ts). `conformanceProperties` gives the cases as asynchronous fast-check properties with no
// Node import, so a test file (node:test) and a browser page (test/browser/pages/libraryPage.ts)
// run the same ones.

import fc from "fast-check";
import { BINARY_OPS, getBackend, UNARY_OPS, type Backend, type Program, type View } from "../../src/core/backend.ts";
import {
  assertNear,
  both,
  describe,
  dimArb,
  integersBelow,
  layoutArb,
  programArb,
  shapeArb,
  size,
  values,
  viewArb,
  viewPair,
  type Pair,
} from "./conformanceOperands.ts";

export interface ConformanceOptions {
  /** fast-check runs per property (kernels that compile per shape want few). */
  numRuns?: number;
  /** Relative tolerance of transcendental results (ulps of float32 math). */
  mathTol?: number;
}

/** One conformance case: its title, and a run that rejects (fast-check's report) when the backend is off. */
export interface ConformanceProperty {
  name: string;
  run(): Promise<void>;
}

/** The conformance cases of backend `name` against the reference (run each as a test). */
export function conformanceProperties(name: string, opts: ConformanceOptions = {}): ConformanceProperty[] {
  const properties: ConformanceProperty[] = [];
  const test = (title: string, run: () => Promise<void>) => properties.push({ name: title, run });
  const runs = { numRuns: opts.numRuns ?? 40, includeErrorInReport: true };
  const tol = opts.mathTol ?? 4e-6;
  const prop = <A>(arb: fc.Arbitrary<A>, check: (a: A) => Promise<void>) =>
    fc.assert(fc.asyncProperty(arb, check), runs);
  const be = () => getBackend(name);

  test(`${name}: every unary and binary op and where match the reference on strided and broadcast views`, async () => {
    await prop(fc.tuple(viewArb(0, 3), fc.integer(), fc.integer()), async ([[shape, la, sa], sb, sc]) => {
      const x = viewPair(be(), shape, la, sa);
      const y = viewPair(be(), shape, { ...la, order: [...la.order].reverse() }, sb);
      const cond = viewPair(be(), shape, la, sc, (random) => [0, 1, -2, NaN][Math.floor(random() * 4)]);
      const n = size(shape);
      const where = `on ${describe(x.test)} and ${describe(y.test)}`;
      const check = async (program: Program, what: string, inputs: Pair[], t: number) => {
        const { got, want } = await both(be(), [n], (b, side, outs) =>
          b.elementwise(
            program,
            inputs.map((p) => p[side]),
            shape,
            [{ ...outs[0], shape, strides: shape.map((_, d) => size(shape.slice(d + 1))) }],
          ),
        );
        // Φ(x) + x·φ(x) cancels near its zero (x ≈ -0.75): float32 error is relative to the terms (~1).
        const scale = what === "geluDerivative" ? want[0].map((w) => Math.max(1, Math.abs(w))) : undefined;
        assertNear(got[0], want[0], `${what} ${where}`, t, scale);
      };
      for (const op of UNARY_OPS)
        await check(
          {
            code: [
              { op: "input", index: 0 },
              { op, x: 0 },
            ],
            outputs: [1],
          },
          op,
          [x],
          tol,
        );
      for (const op of BINARY_OPS)
        await check(
          {
            code: [
              { op: "input", index: 0 },
              { op: "input", index: 1 },
              { op, x: 0, y: 1 },
            ],
            outputs: [2],
          },
          op,
          [x, y],
          op === "pow" ? tol : 1e-7,
        );
      await check(
        {
          code: [
            { op: "input", index: 0 },
            { op: "input", index: 1 },
            { op: "input", index: 2 },
            { op: "where", cond: 0, x: 1, y: 2 },
          ],
          outputs: [3],
        },
        "where",
        [cond, x, y],
        0,
      );
    });
  });

  test(`${name}: random elementwise programs (several inputs and outputs, strided outputs) match the reference`, async () => {
    await prop(
      fc.tuple(viewArb(0, 3, true), programArb(3, 8), fc.integer(), fc.integer(), layoutArb(3, false)),
      async ([[shape, la, sa], program, sb, sc, lo]) => {
        const inputs = [
          viewPair(be(), shape, la, sa, values(true, 2)),
          viewPair(be(), shape, la, sb, values(true, 2)),
          viewPair(be(), shape, la, sc, values(true, 2)),
        ];
        const outLayout = {
          ...lo,
          order: lo.order.filter((d) => d < shape.length),
          steps: shape.map(() => 1),
          broadcast: shape.map(() => false),
        };
        // Outputs written through a permuted (strided) view of their storage.
        const n = size(shape);
        const { got, want } = await both(
          be(),
          program.outputs.map(() => n),
          (b, side, outs) => {
            const order = outLayout.order.length === shape.length ? outLayout.order : shape.map((_, d) => d);
            const strides = new Array<number>(shape.length);
            let acc = 1;
            for (let k = order.length - 1; k >= 0; k--) {
              strides[order[k]] = acc;
              acc *= shape[order[k]];
            }
            b.elementwise(
              program,
              inputs.map((p) => p[side]),
              shape,
              outs.map((o) => ({ ...o, shape, strides })),
            );
          },
        );
        // Chains of float32 roundings: compare loosely, but NaN/Inf placement exactly.
        got.forEach((g, j) =>
          assertNear(g, want[j], `program ${JSON.stringify(program)} output ${j} on ${describe(inputs[0].test)}`, 1e-3),
        );
      },
    );
  });

  test(`${name}: sum, max and min over random axis sets match the reference`, async () => {
    await prop(
      viewArb(0, 4).chain(([shape, l, s]) =>
        fc.tuple(fc.constant(shape), fc.constant(l), fc.constant(s), fc.subarray([...shape.keys()])),
      ),
      async ([shape, layout, seed, axes]) => {
        const x = viewPair(be(), shape, layout, seed);
        const n = size(shape.filter((_, d) => !axes.includes(d)));
        const what = `over [${axes}] of ${describe(x.test)}`;
        for (const op of ["sum", "max", "min"] as const) {
          if (op !== "sum" && axes.some((a) => shape[a] === 0)) continue; // the ops refuse empty max/min
          const { got, want } = await both(be(), [n], (b, side, [out]) => b.reduce(op, x[side], axes, out));
          const abs =
            op === "sum"
              ? (
                  await both(be(), [n], (b, side, [out]) => {
                    const a = {
                      storage: b.alloc(size(shape), "float32"),
                      shape,
                      strides: shape.map((_, d) => size(shape.slice(d + 1))),
                      offset: 0,
                    };
                    b.elementwise(
                      {
                        code: [
                          { op: "input", index: 0 },
                          { op: "abs", x: 0 },
                        ],
                        outputs: [1],
                      },
                      [x[side]],
                      shape,
                      [a],
                    );
                    b.reduce("sum", a, axes, out);
                  })
                ).want[0]
              : undefined;
          assertNear(got[0], want[0], `${op} ${what}`, op === "sum" ? 1e-5 : 0, abs);
        }
      },
    );
  });

  test(`${name}: batched matmul (broadcast batch, transposed operands) matches the reference`, async () => {
    const arb = fc
      .tuple(shapeArb(0, 2, fc.constantFrom(1, 2, 3)), dimArb, dimArb, dimArb)
      .chain(([batch, m, k, n]) =>
        fc.tuple(
          fc.constant([...batch, m, k]),
          layoutArb(batch.length + 2),
          fc.integer(),
          fc.constant([...batch, k, n]),
          layoutArb(batch.length + 2),
          fc.integer(),
        ),
      );
    await prop(arb, async ([sa, la, seedA, sb, lb, seedB]) => {
      const [a, b] = [viewPair(be(), sa, la, seedA, values(false)), viewPair(be(), sb, lb, seedB, values(false))];
      const cells = size(sa.slice(0, -1)) * sb[sb.length - 1];
      const { got, want } = await both(be(), [cells], (bk, side, [out]) => bk.matmul(a[side], b[side], out));
      const k = sa[sa.length - 1];
      assertNear(
        got[0],
        want[0],
        `matmul ${describe(a.test)} @ ${describe(b.test)}`,
        1e-5 * Math.max(1, k),
        want[0].map(() => 9),
      );
    });
  });

  test(`${name}: softmax, layer norm and their backward passes match the reference`, async () => {
    await prop(viewArb(1, 3, false), async ([shape, layout, seed]) => {
      const x = viewPair(be(), shape, layout, seed, values(false));
      const dy = viewPair(be(), shape, layout, seed + 1, values(false));
      const d = shape[shape.length - 1];
      const rows = size(shape.slice(0, -1));
      const n = size(shape);
      const w = viewPair(be(), [d], { order: [0], steps: [1], broadcast: [false], lead: 1 }, seed + 2, values(false));
      const bias = viewPair(
        be(),
        [d],
        { order: [0], steps: [1], broadcast: [false], lead: 0 },
        seed + 3,
        values(false),
      );
      const sm = await both(be(), [n], (b, side, [out]) => b.softmax(x[side], out));
      assertNear(sm.got[0], sm.want[0], `softmax of ${describe(x.test)}`, 1e-5);
      const contiguousOf = (_side: "test" | "ref", b: Backend, values: ArrayLike<number>): View => ({
        storage: b.upload(values, "float32"),
        shape,
        strides: shape.map((_, k) => size(shape.slice(k + 1))),
        offset: 0,
      });
      const smb = await both(be(), [n], (b, side, [out]) =>
        b.softmaxBackward(contiguousOf(side, b, sm.want[0]), dy[side], out),
      );
      assertNear(
        smb.got[0],
        smb.want[0],
        `softmaxBackward of ${describe(x.test)}`,
        1e-5,
        smb.want[0].map(() => 1),
      );
      const ln = await both(be(), [n, rows, rows], (b, side, [out, m, r]) =>
        b.layerNorm(x[side], w[side], bias[side], 1e-5, out, m, r),
      );
      // The mean and rstd of an empty row (d = 0) are unspecified: no backend writes them, nothing reads them.
      ln.got.forEach(
        (g, i) => (d > 0 || i === 0) && assertNear(g, ln.want[i], `layerNorm output ${i} of ${describe(x.test)}`, 1e-4),
      );
      const rowsView = (b: Backend, v: ArrayLike<number>): View => ({
        storage: b.upload(v, "float32"),
        shape: shape.slice(0, -1),
        strides: shape.slice(0, -1).map((_, k) => size(shape.slice(k + 1, -1))),
        offset: 0,
      });
      const lnb = await both(be(), [n, d, d], (b, side, [dx, dw, db]) =>
        b.layerNormBackward(dy[side], x[side], w[side], rowsView(b, ln.want[1]), rowsView(b, ln.want[2]), dx, dw, db),
      );
      lnb.got.forEach((g, i) =>
        assertNear(
          g,
          lnb.want[i],
          `layerNormBackward output ${i} of ${describe(x.test)}`,
          1e-4,
          lnb.want[i].map(() => 1 + rows),
        ),
      );
    });
  });

  test(`${name}: gather, scatterAdd, argsort and argmax match the reference`, async () => {
    const arb = viewArb(1, 3).chain(([shape, l, s]) =>
      fc.tuple(
        fc.constant(shape),
        fc.constant(l),
        fc.constant(s),
        fc.integer({ min: 0, max: shape.length - 1 }),
        fc.constantFrom(1, 2, 3, 7),
        layoutArb(shape.length),
        fc.integer(),
        layoutArb(shape.length, false),
      ),
    );
    await prop(arb, async ([shape, li, seedI, axis, nx, lx, seedX, lb]) => {
      const xShape = shape.map((d, i) => (i === axis ? nx : d));
      const index = viewPair(be(), shape, li, seedI, integersBelow(nx));
      const x = viewPair(be(), xShape, lx, seedX);
      const what = `axis ${axis} of ${describe(x.test)} at ${describe(index.test)}`;
      const g = await both(be(), [size(shape)], (b, side, [out]) => b.gather(x[side], index[side], axis, out));
      assertNear(g.got[0], g.want[0], `gather ${what}`, 0);
      const base = viewPair(be(), xShape, lb, seedX + 1, values(false));
      const src = viewPair(be(), shape, li, seedI + 1, values(false));
      const s = await both(be(), [size(xShape)], (b, side, [out]) =>
        b.scatterAdd(base[side], index[side], src[side], axis, out),
      );
      assertNear(
        s.got[0],
        s.want[0],
        `scatterAdd ${what}`,
        1e-6,
        s.want[0].map(() => 3 * (1 + size(shape))),
      );
      const sorted = await both(be(), [size(xShape)], (b, side, [out]) =>
        b.argsort(x[side], axis, seedX % 2 === 0, out),
      );
      assertNear(sorted.got[0], sorted.want[0], `argsort ${what}`, 0);
      const top = await both(be(), [size(xShape) / nx], (b, side, [out]) => b.argmax(x[side], axis, out));
      assertNear(top.got[0], top.want[0], `argmax ${what}`, 0);
    });
  });

  test(`${name}: random draws equal the reference's for every distribution`, async () => {
    await prop(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.nat(), fc.nat()), async ([n, hi, lo]) => {
      for (const dist of [
        { kind: "uniform", low: -2, high: 3 },
        { kind: "normal", mean: 1, std: 2 },
        { kind: "truncatedNormal", lower: -1, upper: 2, std: 0.5 },
        { kind: "bernoulli", p: 0.3 },
      ] as const) {
        const r = await both(be(), [n], (b, _side, [out]) => b.random(dist, { hi, lo }, n, out));
        // A normal draw is mean + std·z: its float32 error is relative to |mean| + std·|z|, not to a
        // result that cancels near 0.
        const mean = dist.kind === "normal" ? dist.mean : 0;
        const scale = dist.kind === "bernoulli" ? undefined : r.want[0].map((w) => Math.abs(mean) + Math.abs(w - mean));
        assertNear(r.got[0], r.want[0], `random ${dist.kind}`, 1e-6, scale);
      }
    });
  });
  return properties;
}
