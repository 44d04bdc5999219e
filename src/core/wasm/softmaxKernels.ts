// Emits softmax over contiguous rows and its backward pass (one SIMD pass per step, as in PyTorch's
// fused kernels). Sums accumulate in float64 like the reference; dy − Σ dy·y is taken in float64.
import { FunctionBuilder, F64, I32, type ModuleBuilder, V128 } from "./assembler.ts";
import { at4, forRange, kernelFunction } from "./emit.ts";
import { half, join, lanesSum, loadF64, tail, vectors } from "./rowLoops.ts";
import { emitExp } from "./simdMath.ts";

export function addSoftmaxKernels(module: ModuleBuilder): void {
  module.addFunction("softmaxRows", emitSoftmax());
  module.addFunction("softmaxBackwardRows", emitSoftmaxBackward());
}

/**
 * softmaxRows(x, out, d, rows): out = e^{x−m} / Σ e^{x−m} per row, m the row's max (0 when it is
 * −inf; a row holding +inf is NaN, as in the reference). A row's last d & 3 elements go through a vector padded with −inf
 * (whose exp is 0), staged in scratch.
 */
function emitSoftmax(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [x, out, d, rows] = f.params;
  const scratch = f.params[15];
  const [r, p, q, t, k, j] = Array.from({ length: 6 }, () => f.local(I32));
  const [m, v, e, s0, s1, inv] = Array.from({ length: 6 }, () => f.local(V128));
  const mx = f.local(F64);
  const sum = f.local(F64);
  /** v = the row's tail at p padded with −inf (via scratch). */
  const loadTail = () => {
    f.get(scratch).f32x4Const(-Infinity).mem("v128.store");
    forRange(
      f,
      j,
      () => f.i32Const(0),
      t,
      () => {
        at4(f, scratch, j);
        at4(f, p, j);
        f.mem("f32.load").mem("f32.store");
      },
    );
    f.get(scratch).mem("v128.load").set(v);
  };
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").tee(p).get(out).op("i32.add").set(q);
      f.get(p).get(x).op("i32.add").set(p);
      f.get(d).i32Const(3).op("i32.and").set(t);
      // Pass 1: the max.
      f.f32x4Const(-Infinity).set(m);
      vectors(f, d, [p], () => f.get(m).get(p).mem("v128.load").op("f32x4.max").set(m));
      loadTail();
      f.get(m).get(v).op("f32x4.max").set(m);
      f.get(m).f32x4ExtractLane(0).get(m).f32x4ExtractLane(1).op("f32.max");
      f.get(m).f32x4ExtractLane(2).get(m).f32x4ExtractLane(3).op("f32.max").op("f32.max").op("f64.promote_f32").set(mx);
      // A +inf in the row: x − max is NaN there (inf − inf), so Σ is NaN and the whole row is NaN, as
      // the reference, the composition and torch give.
      f.get(mx).f64Const(Infinity).op("f64.eq").if();
      f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").get(x).op("i32.add").set(p);
      f.get(q).set(k);
      const infRow = () => f.f32x4Const(Number.NaN);
      vectors(f, d, [p, k], () => {
        f.get(p).mem("v128.load").set(v).get(k);
        infRow();
        f.mem("v128.store");
      });
      tail(f, d, [p, k], () => {
        f.get(p).mem("v128.load32_splat").set(v).get(k);
        infRow();
        f.f32x4ExtractLane(0).mem("f32.store");
      });
      f.else();
      f.get(mx).op("f64.abs").f64Const(Infinity).op("f64.eq").if().f64Const(0).set(mx).end();
      f.get(mx).op("f32.demote_f64").op("f32x4.splat").set(m);
      // Pass 2: e = exp(x − m) into out, summed in float64.
      f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").get(x).op("i32.add").set(p);
      f.f64x2Const(0).set(s0).f64x2Const(0).set(s1);
      const expAndSum = () => {
        f.get(v).get(m).op("f32x4.sub").set(v);
        emitExp(f, v);
        f.set(e);
        f.get(s0);
        half(f, e, false);
        f.op("f64x2.add").set(s0).get(s1);
        half(f, e, true);
        f.op("f64x2.add").set(s1);
      };
      f.get(q).set(k);
      vectors(f, d, [p, k], () => {
        f.get(p).mem("v128.load").set(v);
        expAndSum();
        f.get(k).get(e).mem("v128.store");
      });
      loadTail();
      expAndSum();
      f.get(scratch).get(e).mem("v128.store");
      f.get(scratch).set(p);
      tail(f, d, [p, k], () => f.get(k).get(p).mem("f32.load").mem("f32.store"));
      // Pass 3: scale by 1/Σ.
      lanesSum(f, s0, s1);
      f.set(sum);
      f.f64Const(1).get(sum).op("f64.div").op("f32.demote_f64").op("f32x4.splat").set(inv);
      f.get(q).set(k);
      vectors(f, d, [k], () => f.get(k).get(k).mem("v128.load").get(inv).op("f32x4.mul").mem("v128.store"));
      tail(f, d, [k], () =>
        f.get(k).get(k).mem("f32.load").get(inv).f32x4ExtractLane(0).op("f32.mul").mem("f32.store"),
      );
      f.end();
    },
  );
  return f;
}

/** softmaxBackwardRows(y, dy, out, d, rows): out = y·(dy − Σ dy·y), in float64 per element. */
function emitSoftmaxBackward(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [y, dy, out, d, rows] = f.params;
  const [r, py, pg, po] = Array.from({ length: 4 }, () => f.local(I32));
  const [vy, vg, a0, a1, dot, lo, hi] = Array.from({ length: 7 }, () => f.local(V128));
  const s = f.local(F64);
  const start = () => {
    f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").tee(po).get(y).op("i32.add").set(py);
    f.get(po).get(dy).op("i32.add").set(pg);
    f.get(po).get(out).op("i32.add").set(po);
  };
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      start();
      f.f64x2Const(0).set(a0).f64x2Const(0).set(a1);
      vectors(f, d, [py, pg], () => {
        f.get(py).mem("v128.load").set(vy).get(pg).mem("v128.load").set(vg);
        for (const [acc, upper] of [
          [a0, false],
          [a1, true],
        ] as const) {
          f.get(acc);
          half(f, vy, upper);
          half(f, vg, upper);
          f.op("f64x2.mul").op("f64x2.add").set(acc);
        }
      });
      lanesSum(f, a0, a1);
      f.set(s);
      tail(f, d, [py, pg], () => {
        f.get(s);
        loadF64(f, py);
        loadF64(f, pg);
        f.op("f64.mul").op("f64.add").set(s);
      });
      f.get(s).op("f64x2.splat").set(dot);
      start();
      vectors(f, d, [py, pg, po], () => {
        f.get(py).mem("v128.load").set(vy).get(pg).mem("v128.load").set(vg);
        for (const [res, upper] of [
          [lo, false],
          [hi, true],
        ] as const) {
          half(f, vg, upper);
          f.get(dot).op("f64x2.sub");
          half(f, vy, upper);
          f.op("f64x2.mul").set(res);
        }
        f.get(po);
        join(f, lo, hi);
        f.mem("v128.store");
      });
      tail(f, d, [py, pg, po], () => {
        f.get(po);
        loadF64(f, pg);
        f.get(s).op("f64.sub");
        loadF64(f, py);
        f.op("f64.mul").op("f32.demote_f64").mem("f32.store");
      });
    },
  );
  return f;
}
