// Emits the random kernel: the counter-based Threefry-2x32 generator of prng.ts (Salmon et al. 2011)
// on four counters per SIMD step, and the transforms of hostKernels.random: uniform and bernoulli
// exactly as the reference computes them (the affine map and the comparison in float64), normal and
// truncated normal by Giles' erfinv in float32 (a few ulps from the reference's float64 evaluation,
// measured in test/core/cpuRandom.test.ts).
import { FunctionBuilder, I32, type Local, type ModuleBuilder, V128 } from "./assembler.ts";
import { at4, forRange, inc, kernelFunction, whileNot } from "./emit.ts";
import { emitLog, horner } from "./simdMath.ts";

/** Distribution codes; the float64 parameters each reads are listed in src/core/backends/cpu/random.ts. */
export const RANDOM_KINDS = ["uniform", "normal", "truncatedNormal", "bernoulli"] as const;

export function addRandomKernel(module: ModuleBuilder): void {
  module.addFunction("randomFill", emitRandomFill());
}

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

/** x0, x1 (i32x4 locals) = Threefry-2x32-20 of counters (x0, x1) under key (k0, k1): prng.ts's threefry2x32. */
function threefry(f: FunctionBuilder, k0: Local, k1: Local, x0: Local, x1: Local): void {
  const ks = [f.local(V128), f.local(V128), f.local(V128)];
  f.get(k0).op("i32x4.splat").set(ks[0]);
  f.get(k1).op("i32x4.splat").set(ks[1]);
  f.get(k0).get(k1).op("i32.xor").i32Const(0x1bd11bda).op("i32.xor").op("i32x4.splat").set(ks[2]);
  f.get(x0).get(ks[0]).op("i32x4.add").set(x0);
  f.get(x1).get(ks[1]).op("i32x4.add").set(x1);
  for (let block = 0; block < 5; block++) {
    const rot = block % 2 === 0 ? 0 : 4;
    for (let r = 0; r < 4; r++) {
      const s = ROTATIONS[rot + r];
      f.get(x0).get(x1).op("i32x4.add").set(x0);
      f.get(x1)
        .i32Const(s)
        .op("i32x4.shl")
        .get(x1)
        .i32Const(32 - s)
        .op("i32x4.shr_u")
        .op("v128.or");
      f.get(x0).op("v128.xor").set(x1);
    }
    f.get(x0)
      .get(ks[(block + 1) % 3])
      .op("i32x4.add")
      .set(x0);
    f.get(x1)
      .get(ks[(block + 2) % 3])
      .op("i32x4.add")
      .i32x4Const(block + 1)
      .op("i32x4.add")
      .set(x1);
  }
}

const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const JOIN = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Pushes f32x4(g(promote(v.lo)), g(promote(v.hi))) for a float64 map g pushing its result from the f64x2 on the stack. */
function viaFloat64(f: FunctionBuilder, v: Local, g: () => void): void {
  f.get(v).op("f64x2.promote_low_f32x4");
  g();
  f.op("f32x4.demote_f64x2_zero");
  f.get(v).get(v).shuffle(HIGH).op("f64x2.promote_low_f32x4");
  g();
  f.op("f32x4.demote_f64x2_zero").shuffle(JOIN);
}

// Giles (2010), "Approximating the erfinv function", single precision: central and tail polynomials
// (highest degree first), as in prng.ts's erfinv.
const ERFINV_CENTRAL = [
  2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164,
  0.246640727, 1.50140941,
];
const ERFINV_TAIL = [
  -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
  1.00167406, 2.83297682,
];

/**
 * Pushes √2·erfinv(y) for y in (−1, 1) (float32), given q = (1 − y)(1 + y) (which decides the
 * accuracy near ±1, so the caller computes it from y before y was rounded).
 */
function sqrt2Erfinv(f: FunctionBuilder, y: Local, q: Local): void {
  const [w, c, tw, pc, pt] = Array.from({ length: 5 }, () => f.local(V128));
  emitLog(f, q);
  f.op("f32x4.neg").set(w);
  f.get(w).f32x4Const(2.5).op("f32x4.sub").set(c);
  horner(f, c, ERFINV_CENTRAL);
  f.set(pc);
  f.get(w).op("f32x4.sqrt").f32x4Const(3).op("f32x4.sub").set(tw);
  horner(f, tw, ERFINV_TAIL);
  f.set(pt);
  f.get(pc).get(pt).get(w).f32x4Const(5).op("f32x4.lt").op("v128.bitselect");
  f.get(y).op("f32x4.mul").f32x4Const(Math.SQRT2).op("f32x4.mul");
}

/**
 * randomFill(kind, k0, k1, start, end, dst, params): dst[i] for i in [start, end) (start a multiple
 * of 8) = the transform of uniform word i of randomBits((k0, k1)); params is the byte address of
 * the float64 parameters.
 */
function emitRandomFill(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [kind, k0, k1, start, end, dst, params] = f.params;
  const scratch = f.params[15];
  const [i, j, n, out, stop] = Array.from({ length: 5 }, () => f.local(I32));
  const [x0, x1, u, y, z, q] = Array.from({ length: 6 }, () => f.local(V128));
  const [a, b, c, d, e] = Array.from({ length: 5 }, () => f.local(V128)); // f64x2 splats of the parameters
  const p = (k: number, into: Local) =>
    f
      .get(params)
      .mem("f64.load", 8 * k)
      .op("f64x2.splat")
      .set(into);
  p(0, a);
  p(1, b);
  p(2, c);
  p(3, d);
  p(4, e);
  /** One vector of 4 words (in u as uint32 bits) to 4 floats on the stack. */
  const transform = () => {
    // u = (bits >>> 9)·2⁻²³, exact in float32
    f.get(u)
      .i32Const(9)
      .op("i32x4.shr_u")
      .op("f32x4.convert_i32x4_u")
      .f32x4Const(2 ** -23)
      .op("f32x4.mul")
      .set(u);
    for (let k = 0; k < 5; k++) f.block(); // the exit, then one per kind
    f.get(kind).brTable([0, 1, 2, 3], 4);
    f.end(); // uniform: a + b·u (float64)
    viaFloat64(f, u, () => f.get(b).op("f64x2.mul").get(a).op("f64x2.add"));
    f.set(z).br(3);
    f.end(); // normal: a + b·z, z = √2·erfinv(2(u + 2⁻²⁴) − 1)
    f.get(u)
      .f32x4Const(2 ** -24)
      .op("f32x4.add")
      .f32x4Const(2)
      .op("f32x4.mul")
      .f32x4Const(1)
      .op("f32x4.sub")
      .set(y);
    // y = 2(u + 2⁻²⁴) − 1 is exact in float32, and so are 1 − y and 1 + y.
    f.f32x4Const(1).get(y).op("f32x4.sub").f32x4Const(1).get(y).op("f32x4.add").op("f32x4.mul").set(q);
    sqrt2Erfinv(f, y, q);
    f.set(z);
    viaFloat64(f, z, () => f.get(b).op("f64x2.mul").get(a).op("f64x2.add"));
    f.set(z).br(2);
    f.end(); // truncated normal: e·clamp(√2·erfinv(a + b·(u + 2⁻²⁴)), c, d)
    // y = a + b·(u + 2⁻²⁴) and (1 − y)(1 + y) in float64, then rounded (1 − y would cancel in float32).
    f.get(u)
      .f32x4Const(2 ** -24)
      .op("f32x4.add")
      .set(u);
    viaFloat64(f, u, () => f.get(b).op("f64x2.mul").get(a).op("f64x2.add"));
    f.set(y);
    viaFloat64(f, u, () => {
      const t = f.local(V128);
      f.get(b).op("f64x2.mul").get(a).op("f64x2.add").set(t);
      f.f64x2Const(1).get(t).op("f64x2.sub").f64x2Const(1).get(t).op("f64x2.add").op("f64x2.mul");
    });
    f.set(q);
    sqrt2Erfinv(f, y, q);
    f.set(z);
    viaFloat64(f, z, () => f.get(c).op("f64x2.pmax").get(d).op("f64x2.pmin").get(e).op("f64x2.mul"));
    f.set(z).br(1);
    f.end(); // bernoulli: u < a
    viaFloat64(f, u, () => f.get(a).op("f64x2.lt").f64x2Const(1).op("v128.and"));
    f.set(z);
    f.end();
    f.get(z);
  };
  f.get(start).set(i);
  f.get(dst).get(start).i32Const(2).op("i32.shl").op("i32.add").set(out);
  whileNot(
    f,
    () => f.get(i).get(end).op("i32.ge_s"),
    () => {
      // counters j..j+3 for words 2j..2j+7
      f.get(i).i32Const(1).op("i32.shr_u").op("i32x4.splat").i32x4Const(0, 1, 2, 3).op("i32x4.add").set(x0);
      f.i32x4Const(0).set(x1);
      threefry(f, k0, k1, x0, x1);
      f.get(end).get(i).op("i32.sub").set(n);
      // words interleaved: [x0₀ x1₀ x0₁ x1₁] [x0₂ x1₂ x0₃ x1₃]
      for (let h = 0; h < 2; h++) {
        const base = 8 * h;
        f.get(x0)
          .get(x1)
          .shuffle([0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23].map((v) => v + base))
          .set(u);
        transform();
        f.set(z);
        // a whole vector, or the last partial one through scratch
        f.get(n)
          .i32Const(4 * h + 4)
          .op("i32.ge_s")
          .if();
        f.get(out)
          .get(z)
          .mem("v128.store", 16 * h);
        f.else();
        f.get(scratch).get(z).mem("v128.store");
        f.get(n)
          .i32Const(4 * h)
          .op("i32.sub")
          .set(stop);
        forRange(
          f,
          j,
          () => f.i32Const(0),
          stop,
          () => {
            f.get(out)
              .i32Const(16 * h)
              .op("i32.add")
              .get(j)
              .i32Const(2)
              .op("i32.shl")
              .op("i32.add");
            at4(f, scratch, j);
            f.mem("f32.load").mem("f32.store");
          },
        );
        f.end();
      }
      inc(f, i, 8);
      inc(f, out, 32);
    },
  );
  return f;
}
