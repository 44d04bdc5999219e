// Float64 lanes for the functions float32 cannot get right cheaply: gelu and its derivative. In
// float64, x² of a float32 x is exact (no split needed for e^{-x²/2}), Cody's rationals keep their
// accuracy, and Φ(x) + x·φ(x) (gelu′) keeps its value near its zero at x ≈ −0.7518 where the two
// terms cancel; each result is rounded to float32 once. Four floats are two f64x2 halves.
import { type FunctionBuilder, type Local, V128 } from "./assembler.ts";

const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const JOIN = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Pushes f32x4(g(lo half), g(hi half)), g emitting a float64x2 result from the f64x2 local it is given. */
export function perHalf(f: FunctionBuilder, x: Local, g: (h: Local) => void): void {
  const h = f.local(V128);
  f.get(x).op("f64x2.promote_low_f32x4").set(h);
  g(h);
  f.op("f32x4.demote_f64x2_zero");
  f.get(x).get(x).shuffle(HIGH).op("f64x2.promote_low_f32x4").set(h);
  g(h);
  f.op("f32x4.demote_f64x2_zero").shuffle(JOIN);
}

/** Pushes P(t) (coefficients highest degree first) in float64x2. */
function horner64(f: FunctionBuilder, t: Local, c: readonly number[]): void {
  f.f64x2Const(c[0]);
  for (let i = 1; i < c.length; i++) f.get(t).op("f64x2.mul").f64x2Const(c[i]).op("f64x2.add");
}

const let64 = (f: FunctionBuilder, emit: () => void): Local => {
  const l = f.local(V128);
  emit();
  f.set(l);
  return l;
};

// e^r on |r| <= ln2/2 by its Taylor series to r^10 (error < 1e-11 relative: float32 needs 2^-30).
const EXP_TAYLOR = Array.from({ length: 11 }, (_, k) => 1 / factorial(10 - k));
function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

/** Pushes e^x for x in [-700, 0] (float64x2): x = n·ln2 + r (fdlibm's split of ln2), 2^n from its exponent bits. */
function exp64(f: FunctionBuilder, x: Local): void {
  const n = let64(f, () => f.get(x).f64x2Const(Math.LOG2E).op("f64x2.mul").op("f64x2.nearest"));
  const r = let64(f, () =>
    f
      .get(x)
      .get(n)
      .f64x2Const(6.9314718036912381649e-1)
      .op("f64x2.mul")
      .op("f64x2.sub")
      .get(n)
      .f64x2Const(1.90821492927058770002e-10)
      .op("f64x2.mul")
      .op("f64x2.sub"),
  );
  horner64(f, r, EXP_TAYLOR);
  // 2^n: the bits of (n + 1023) + 2^52 end in n + 1023; shifted into the exponent field.
  f.get(n)
    .f64x2Const(1023 + 2 ** 52)
    .op("f64x2.add")
    .i32Const(52)
    .op("i64x2.shl");
  f.op("f64x2.mul");
}

// Cody (as in prng.ts): erfc(a) = e^{-a²}·N(a)/D(a), fitted on [0.5, 4). Evaluated in float64 it
// stays within ~1e-11 of erfc(a)e^{a²} from a = 0 (N(0)/D(0) = 1 − 5e-12) to the float32 underflow
// of gelu (a ≈ 9.4), so Cody's series below 0.5 and tail form beyond 4 are not needed for float32
// results within 1 ulp (the sweep of test/core/cpuMathAccuracy.ts).
const MID_NUM = [
  2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2,
  8.8195222124176909e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3,
];
const MID_DEN = [
  1, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
  4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];

/** Φ(x) and e^{-x²/2} of a float64x2 x (NaN stays NaN; ±inf give 1 and 0). */
function normalCdf64(f: FunctionBuilder, x: Local): { cdf: Local; gauss: Local; xc: Local } {
  // |x| <= 37 is enough (e^{-684} is 0 in float32) and keeps inf out of the arithmetic; beyond, Φ is 0 or 1.
  const xc = let64(f, () => f.get(x).f64x2Const(-37).op("f64x2.pmax").f64x2Const(37).op("f64x2.pmin"));
  const half2 = let64(f, () => f.get(xc).get(xc).op("f64x2.mul").f64x2Const(0.5).op("f64x2.mul")); // a² = x²/2, exact
  const a = let64(f, () => f.get(xc).op("f64x2.abs").f64x2Const(Math.SQRT1_2).op("f64x2.mul"));
  const minusHalf2 = let64(f, () => f.get(half2).op("f64x2.neg"));
  const gauss = let64(f, () => exp64(f, minusHalf2));
  const erfc = let64(f, () => {
    horner64(f, a, MID_NUM);
    horner64(f, a, MID_DEN);
    f.op("f64x2.div").get(gauss).op("f64x2.mul");
  });
  // Φ = erfc/2 for x < 0, 1 − erfc/2 for x > 0.
  const cdf = let64(f, () => {
    f.get(erfc).f64x2Const(0.5).op("f64x2.mul");
    f.f64x2Const(1).get(erfc).f64x2Const(0.5).op("f64x2.mul").op("f64x2.sub");
    f.get(xc).f64x2Const(0).op("f64x2.lt").op("v128.bitselect");
  });
  // |x| >= 37: exactly 0 or 1, as the reference's 1 + erf(x/√2) rounds to (so gelu(−inf) is NaN like its −inf·0).
  f.f64x2Const(1).f64x2Const(0).get(xc).f64x2Const(0).op("f64x2.gt").op("v128.bitselect");
  f.get(cdf).get(xc).op("f64x2.abs").f64x2Const(37).op("f64x2.ge").op("v128.bitselect").set(cdf);
  return { cdf, gauss, xc };
}

/** Pushes gelu x = x·Φ(x) (float32 lanes in x; each result rounded once from float64). */
export function emitGelu64(f: FunctionBuilder, x: Local): void {
  perHalf(f, x, (h) => {
    const { cdf } = normalCdf64(f, h);
    f.get(h).get(cdf).op("f64x2.mul");
  });
}

/** Pushes gelu′(x) = Φ(x) + x·φ(x); ±inf give 1 and 0 (x·φ is evaluated at x clamped to ±37, where it is 0 in float32). */
export function emitGeluDerivative64(f: FunctionBuilder, x: Local): void {
  perHalf(f, x, (h) => {
    const { cdf, gauss, xc } = normalCdf64(f, h);
    const res = let64(f, () =>
      f
        .get(cdf)
        .get(xc)
        .get(gauss)
        .op("f64x2.mul")
        .f64x2Const(1 / Math.sqrt(2 * Math.PI))
        .op("f64x2.mul")
        .op("f64x2.add"),
    );
    // −inf: exactly 0 (the clamped x·φ would leave −0)
    const negInf = let64(f, () => f.get(h).f64x2Const(-Infinity).op("f64x2.eq"));
    f.f64x2Const(0).get(res).get(negInf).op("v128.bitselect");
  });
}
