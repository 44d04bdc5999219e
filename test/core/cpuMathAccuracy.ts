// Measures the cpu backend's vectorised float32 math against float64 truth over a sweep of float32
// inputs (every exponent of the range, 2^12 mantissas each, both signs): the worst error in float32
// ulps of the true value, and where. Used by test/core/cpuMath.test.ts (which asserts the bounds
// stated in src/core/wasm/simdMath.ts) and printed by bench/kernels.ts.
import type { UnaryOp } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { erf } from "../../src/core/prng.ts";

/** erfc(x) for x ≥ 0 to ~1e-15 relative (W. J. Cody's rational approximations, as in prng.ts). */
function erfc(x: number): number {
  if (x < 0.5) return 1 - erf(x);
  if (x >= 27) return 0;
  let r: number;
  if (x < 4) {
    const n = [
      2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2,
      8.8195222124176909e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3,
    ];
    const d = [
      1, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3,
      3.29079923573345963e3, 4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
    ];
    r = horner(n, x) / horner(d, x);
  } else {
    const z = 1 / (x * x);
    const n = [
      1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4,
    ];
    const d = [
      1, 2.56852019228982242, 1.87295284992346725, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3,
    ];
    r = (1 / Math.sqrt(Math.PI) - (z * horner(n, z)) / horner(d, z)) / x;
  }
  return Math.exp(-x * x) * r;
}
const horner = (c: number[], x: number) => c.reduce((acc, ci) => acc * x + ci, 0);

/** Φ(x), accurate in both tails. */
const Phi = (x: number) => (x < 0 ? 0.5 * erfc(-x / Math.SQRT2) : 1 - 0.5 * erfc(x / Math.SQRT2));
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** True values (float64) of the vectorised functions. */
export const TRUTH: Partial<Record<UnaryOp, (x: number) => number>> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  erf: (x) => (Math.abs(x) < 0.5 ? erf(x) : Math.sign(x) * (1 - erfc(Math.abs(x)))),
  gelu: (x) => x * Phi(x),
  geluDerivative: (x) => (x === Infinity ? 1 : x === -Infinity ? 0 : Phi(x) + x * phi(x)),
};

/** Inputs of the sweep: ±m·2^e for 4096 mantissas m in [1, 2) per exponent e in [lo, hi]. */
export function sweep(lo: number, hi: number): Float32Array {
  const out: number[] = [];
  for (let e = lo; e <= hi; e++)
    for (let k = 0; k < 4096; k++) {
      const v = (1 + k / 4096 + 1 / 8192) * 2 ** e;
      out.push(v, -v);
    }
  return new Float32Array(out);
}

/** Runs op on the cpu backend over xs. */
export function apply(op: UnaryOp, xs: Float32Array): Float32Array {
  const s = cpu.upload(xs, "float32");
  const o = cpu.alloc(xs.length, "float32");
  const view = (storage: typeof s) => ({ storage, shape: [xs.length], strides: [1], offset: 0 });
  cpu.elementwise(
    {
      code: [
        { op: "input", index: 0 },
        { op, x: 0 },
      ],
      outputs: [1],
    },
    [view(s)],
    [xs.length],
    [view(o)],
  );
  const r = cpu.readSync(view(o)) as Float32Array;
  cpu.free(s);
  cpu.free(o);
  return r;
}

/** Float32 ulps of `want` between got and want (the ulp of the smallest normal below it). */
export function ulpError(got: number, want: number): number {
  if (Number.isNaN(want)) return Number.isNaN(got) ? 0 : Infinity;
  if (!Number.isFinite(want) || want === 0) return got === want ? 0 : Math.abs(got - want) / 2 ** -149;
  const e = Math.max(Math.floor(Math.log2(Math.abs(want))), -126);
  return Math.abs(got - want) / 2 ** (e - 23);
}

export interface Accuracy {
  op: UnaryOp;
  range: string;
  maxUlps: number;
  at: number;
  /** Largest absolute error (for ranges judged absolutely). */
  maxAbs: number;
}

/** Worst ulp error of op over xs restricted to `keep`, against its truth rounded to float32. */
export function measure(
  op: UnaryOp,
  xs: Float32Array,
  range: string,
  keep: (x: number) => boolean = () => true,
): Accuracy {
  const got = apply(op, xs);
  const truth = TRUTH[op]!;
  let maxUlps = 0;
  let at = 0;
  let maxAbs = 0;
  for (let i = 0; i < xs.length; i++) {
    if (!keep(xs[i])) continue;
    const want = Math.fround(truth(xs[i]));
    const u = ulpError(got[i], want);
    if (u > maxUlps) {
      maxUlps = u;
      at = xs[i];
    }
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - want));
  }
  return { op, range, maxUlps, at, maxAbs };
}

/** The measured ranges (what simdMath.ts states). */
export function measureAll(): Accuracy[] {
  const wide = sweep(-30, 7); // |x| from 1e-9 to 256
  const tiny = sweep(-149, -31);
  return [
    measure("exp", wide, "|x| < 88.7 (all normal results)", (x) => Math.abs(x) < 87.3),
    measure("exp", sweep(6, 6), "subnormal results", (x) => x < -87.4 && x > -103),
    measure("log", wide.map(Math.abs), "x in (1e-9, 256)"),
    measure("log", tiny.map(Math.abs), "x < 1e-9, subnormals included"),
    measure("tanh", wide, "all x"),
    measure("tanh", tiny, "tiny x"),
    measure("sigmoid", wide, "x > -87 (normal results)", (x) => x > -87),
    measure("erf", wide, "all x"),
    measure("erf", tiny, "tiny x", (x) => Math.abs(x) > 1e-37),
    measure("gelu", wide, "x > -10", (x) => x > -10),
    measure("gelu", wide, "-13 < x < -10 (tail)", (x) => x > -13 && x <= -10),
    measure("geluDerivative", wide, "|x + 0.7518| > 0.05", (x) => Math.abs(x + 0.7518) > 0.05 && x > -12),
    measure("geluDerivative", wide, "near its zero, x ≈ -0.7518", (x) => Math.abs(x + 0.7518) <= 0.05),
  ];
}
