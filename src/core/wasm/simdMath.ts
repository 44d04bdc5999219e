// Vectorised float32 math for the wasm kernels: each emitter appends code that pushes f(x) for the
// four lanes of a v128 local. exp and log follow Cephes (S. Moshier, expf.c / logf.c: Cody–Waite
// range reduction and minimax polynomials); tanh is Cephes tanhf; erf uses W. J. Cody's rational
// approximations (as prng.ts does in float64) with exp(-x²) from an exact split of x² (as glibc's
// erfcf does). gelu and its derivative run in float64 lanes (simdMath64.ts). Plain mul + add
// throughout (no relaxed FMA): the same bits on every engine.
//
// Accuracy against float64 truth rounded to float32, measured over a sweep of float32 inputs by
// test/core/cpuMathAccuracy.ts (test/core/cpuMath.test.ts asserts these bounds, bench/kernels.ts
// prints the measured figures): exp, log, tanh ≤ 1 ulp; sigmoid, erf ≤ 2 ulp; gelu and gelu′ (in
// float64 lanes) ≤ 1 ulp, gelu′ included near its zero where Φ and x·φ cancel. Special values
// follow Math.*: NaN stays NaN, exp(-inf) = 0, exp overflows to inf (x > 88.72), results in the
// subnormal range are rounded twice (≤ 1 subnormal ulp), log(0) = -inf, log(x < 0) = NaN.
import { type FunctionBuilder, type Local, V128 } from "./assembler.ts";

/** Pushes P(t) = (…(c[0]·t + c[1])·t + …)·t + c[n-1] (Horner, plain mul + add). */
export function horner(f: FunctionBuilder, t: Local, c: readonly number[]): void {
  f.f32x4Const(c[0]);
  for (let i = 1; i < c.length; i++) f.get(t).op("f32x4.mul").f32x4Const(c[i]).op("f32x4.add");
}

const tmp = (f: FunctionBuilder) => f.local(V128);

/** Sets `out` to the value computed by `emit` (a helper to name intermediate results). */
function let_(f: FunctionBuilder, emit: () => void): Local {
  const l = tmp(f);
  emit();
  f.set(l);
  return l;
}

/** Pushes bitselect(a, b, mask): a where mask bits are set, b elsewhere. */
function pick(f: FunctionBuilder, a: Local, b: Local, mask: Local): void {
  f.get(a).get(b).get(mask).op("v128.bitselect");
}

// ---- exp ----

const EXP_POLY = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** Pushes e^x (≤ 2 ulp). */
export function emitExp(f: FunctionBuilder, x: Local): void {
  // Clamp so that n below stays in [-150, 128]; e^89 overflows and e^-104 underflows anyway.
  const xc = let_(f, () => f.get(x).f32x4Const(-104).op("f32x4.max").f32x4Const(89).op("f32x4.min"));
  const n = let_(f, () => f.get(xc).f32x4Const(Math.LOG2E).op("f32x4.mul").op("f32x4.nearest"));
  // r = x - n·ln2 in two parts (0.693359375 has 9 bits, so n·C1 is exact).
  const r = let_(f, () =>
    f
      .get(xc)
      .get(n)
      .f32x4Const(0.693359375)
      .op("f32x4.mul")
      .op("f32x4.sub")
      .get(n)
      .f32x4Const(-2.1219444e-4)
      .op("f32x4.mul")
      .op("f32x4.sub"),
  );
  // y = 1 + r + r²·P(r)
  const y = let_(f, () => {
    horner(f, r, EXP_POLY);
    f.get(r).op("f32x4.mul").get(r).op("f32x4.mul").get(r).op("f32x4.add").f32x4Const(1).op("f32x4.add");
  });
  // Scale by 2^n as 2^(n>>1) · 2^(n - n>>1): both factors are normal floats even when 2^n is not.
  const ni = let_(f, () => f.get(n).op("i32x4.trunc_sat_f32x4_s"));
  const n1 = let_(f, () => f.get(ni).i32Const(1).op("i32x4.shr_s"));
  const scale = (k: () => void) => {
    k();
    f.i32x4Const(127).op("i32x4.add").i32Const(23).op("i32x4.shl");
  };
  f.get(y);
  scale(() => f.get(n1));
  f.op("f32x4.mul");
  scale(() => f.get(ni).get(n1).op("i32x4.sub"));
  f.op("f32x4.mul");
}

// ---- log ----

const LOG_POLY = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];

/** Pushes ln x (≤ 2 ulp); log(0) = -inf, log(x < 0) = NaN, log(inf) = inf. */
export function emitLog(f: FunctionBuilder, x: Local): void {
  // Subnormals: scale by 2^23 first and take 23 off the exponent.
  const sub = let_(f, () => f.get(x).f32x4Const(1.17549435e-38).op("f32x4.lt"));
  const xs = let_(f, () => {
    f.get(x)
      .f32x4Const(2 ** 23)
      .op("f32x4.mul")
      .get(x)
      .get(sub)
      .op("v128.bitselect");
  });
  // x = m·2^e with m in [0.5, 1).
  const e = let_(f, () => {
    f.get(xs).i32Const(23).op("i32x4.shr_u").i32x4Const(126).op("i32x4.sub");
    f.get(sub).i32x4Const(23).op("v128.and").op("i32x4.sub");
  });
  const m = let_(f, () => f.get(xs).i32x4Const(0x007fffff).op("v128.and").i32x4Const(0x3f000000).op("v128.or"));
  // If m < √½: e -= 1 and m = 2m - 1, else m = m - 1 (both exact).
  const low = let_(f, () => f.get(m).f32x4Const(Math.SQRT1_2).op("f32x4.lt"));
  const fe = let_(f, () => f.get(e).get(low).op("i32x4.add").op("f32x4.convert_i32x4_s"));
  const t = let_(f, () => f.get(m).f32x4Const(1).op("f32x4.sub").get(m).get(low).op("v128.and").op("f32x4.add"));
  const z = let_(f, () => f.get(t).get(t).op("f32x4.mul"));
  const y = let_(f, () => {
    horner(f, t, LOG_POLY);
    f.get(t).op("f32x4.mul").get(z).op("f32x4.mul");
    f.get(fe).f32x4Const(-2.1219444e-4).op("f32x4.mul").op("f32x4.add");
    f.get(z).f32x4Const(0.5).op("f32x4.mul").op("f32x4.sub");
  });
  const r = let_(f, () =>
    f.get(t).get(y).op("f32x4.add").get(fe).f32x4Const(0.693359375).op("f32x4.mul").op("f32x4.add"),
  );
  // Special values: inf -> inf, 0 -> -inf, negative or NaN -> NaN.
  const special = (value: number, cond: () => void) => {
    const v = let_(f, () => f.f32x4Const(value));
    const c = let_(f, cond);
    f.get(v).get(r).get(c).op("v128.bitselect").set(r);
  };
  special(Infinity, () => f.get(x).f32x4Const(Infinity).op("f32x4.eq"));
  special(-Infinity, () => f.get(x).f32x4Const(0).op("f32x4.eq"));
  special(NaN, () => f.get(x).f32x4Const(0).op("f32x4.ge").op("v128.not"));
  f.get(r);
}

// ---- tanh and sigmoid ----

const TANH_POLY = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];

/** Pushes tanh x (≤ 3 ulp), with the sign of x (so tanh(-0) = -0). */
export function emitTanh(f: FunctionBuilder, x: Local): void {
  const ax = let_(f, () => f.get(x).op("f32x4.abs"));
  // |x| < 0.625: x + x·z·P(z), z = x²; else 1 - 2/(e^{2|x|} + 1).
  const z = let_(f, () => f.get(ax).get(ax).op("f32x4.mul"));
  const small = let_(f, () => {
    horner(f, z, TANH_POLY);
    f.get(z).op("f32x4.mul").get(ax).op("f32x4.mul").get(ax).op("f32x4.add");
  });
  const e2 = let_(f, () => f.get(ax).get(ax).op("f32x4.add"));
  const ex = let_(f, () => emitExp(f, e2));
  const large = let_(f, () =>
    f.f32x4Const(1).f32x4Const(2).get(ex).f32x4Const(1).op("f32x4.add").op("f32x4.div").op("f32x4.sub"),
  );
  const isSmall = let_(f, () => f.get(ax).f32x4Const(0.625).op("f32x4.lt"));
  pick(f, small, large, isSmall);
  // copysign(result, x)
  f.i32x4Const(0x7fffffff).op("v128.and").get(x).i32x4Const(-0x80000000).op("v128.and").op("v128.or");
}

/** Pushes 1/(1 + e^-x) (≤ 2 ulp) as 1/(1+t) or t/(1+t) with t = e^-|x|, so neither tail overflows. */
export function emitSigmoid(f: FunctionBuilder, x: Local): void {
  const nax = let_(f, () => f.get(x).op("f32x4.abs").op("f32x4.neg"));
  const t = let_(f, () => emitExp(f, nax));
  const one = let_(f, () => f.f32x4Const(1));
  const neg = let_(f, () => f.get(x).f32x4Const(0).op("f32x4.lt"));
  pick(f, t, one, neg);
  f.get(t).f32x4Const(1).op("f32x4.add").op("f32x4.div");
}

// ---- erf and the normal CDF ----

// erf(a) = a·(2/√π)·Σ (-t)^k / (k!(2k+1)), t = a², for a < 0.5 (8 terms: < 1e-9 relative); highest first.
const ERF_SERIES = [1, -1 / 3, 1 / 10, -1 / 42, 1 / 216, -1 / 1320, 1 / 9360, -1 / 75600]
  .map((c) => (c * 2) / Math.sqrt(Math.PI))
  .reverse();
// Cody: erfc(a) = e^{-a²}·N(a)/D(a) for 0.5 <= a < 4.
const ERFC_MID_NUM = [
  2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2,
  8.8195222124176909e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3,
];
const ERFC_MID_DEN = [
  1, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
  4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];
// Cody: erfc(a) = e^{-a²}·(1/√π − z·N(z)/D(z))/a, z = 1/a², for a >= 4.
const ERFC_TAIL_NUM = [
  1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
  1.60837851487422766e-2, 6.58749161529837803e-4,
];
const ERFC_TAIL_DEN = [
  1, 2.56852019228982242, 1.87295284992346725, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3,
];

/**
 * The parts of erf(c·x) for c = 1 (erf) or c = √½ (the normal CDF), a = |c·x|:
 * `series` = erf(a)/a·(…) is valid where a < 0.5 (`small`); `erfc` = erfc(a) elsewhere; `gauss`
 * = e^{-a²} everywhere, from an exact split of x² (x = h + l, h with 12 significant bits, so h² is
 * exact): e^{-c²x²} = e^{-c²h²}·e^{-c²(x-h)(x+h)}.
 */
interface ErfParts {
  a: Local;
  small: Local;
  series: Local; // erf(a)/a for small a
  erfc: Local;
  gauss: Local;
}

function emitErfParts(f: FunctionBuilder, x: Local, c: number): ErfParts {
  const c2 = c * c; // 1 or 0.5: exact
  // Beyond 30, e^{-c²x²} is 0 in float32 (and clamping keeps inf - inf out of the split below).
  const ax = let_(f, () => f.get(x).op("f32x4.abs").f32x4Const(30).op("f32x4.min"));
  const a = let_(f, () => f.get(ax).f32x4Const(c).op("f32x4.mul"));
  const small = let_(f, () => f.get(a).f32x4Const(0.5).op("f32x4.lt"));
  const t = let_(f, () => f.get(a).get(a).op("f32x4.mul"));
  const series = let_(f, () => horner(f, t, ERF_SERIES));
  const h = let_(f, () =>
    f
      .get(ax)
      .i32x4Const(0xfffff000 | 0)
      .op("v128.and"),
  );
  const hi = let_(f, () => f.get(h).get(h).op("f32x4.mul").f32x4Const(-c2).op("f32x4.mul"));
  const lo = let_(f, () =>
    f.get(ax).get(h).op("f32x4.sub").get(ax).get(h).op("f32x4.add").op("f32x4.mul").f32x4Const(-c2).op("f32x4.mul"),
  );
  const gauss = let_(f, () => {
    emitExp(f, hi);
    emitExp(f, lo);
    f.op("f32x4.mul");
  });
  const ratio = (num: readonly number[], den: readonly number[], v: Local) => {
    horner(f, v, num);
    horner(f, v, den);
    f.op("f32x4.div");
  };
  const mid = let_(f, () => ratio(ERFC_MID_NUM, ERFC_MID_DEN, a));
  const z = let_(f, () => f.f32x4Const(1).get(t).op("f32x4.div"));
  const tail = let_(f, () => {
    f.f32x4Const(1 / Math.sqrt(Math.PI));
    ratio(ERFC_TAIL_NUM, ERFC_TAIL_DEN, z);
    f.get(z).op("f32x4.mul").op("f32x4.sub").get(a).op("f32x4.div");
  });
  const isTail = let_(f, () => f.get(a).f32x4Const(4).op("f32x4.ge"));
  const erfc = let_(f, () => {
    pick(f, tail, mid, isTail);
    f.get(gauss).op("f32x4.mul");
  });
  return { a, small, series, erfc, gauss };
}

/** Pushes copysign(v, x). */
function withSignOf(f: FunctionBuilder, v: () => void, x: Local): void {
  v();
  f.i32x4Const(0x7fffffff).op("v128.and").get(x).i32x4Const(-0x80000000).op("v128.and").op("v128.or");
}

/** Pushes erf x (≤ 4 ulp). */
export function emitErf(f: FunctionBuilder, x: Local): void {
  const p = emitErfParts(f, x, 1);
  const near = let_(f, () => f.get(p.series).get(p.a).op("f32x4.mul"));
  const far = let_(f, () => f.f32x4Const(1).get(p.erfc).op("f32x4.sub"));
  withSignOf(f, () => pick(f, near, far, p.small), x);
}
