// Emits the fused row kernels over the last axis: softmax and its backward pass, layer norm and its
// backward pass (PyTorch's fused kernels, here one SIMD pass per step). Rows are contiguous; each
// kernel processes `rows` rows from the addresses it is given (a task's share). Sums accumulate in
// float64 as the reference does; where a difference would cancel (x − mean, dy − Σdy·y) it is taken
// in float64 too, so the results stay within a few float32 ulps of the reference.
import { FunctionBuilder, F64, I32, type Local, type ModuleBuilder, V128 } from "./assembler.ts";
import { at4, forRange, inc, kernelFunction, whileNot } from "./emit.ts";
import { emitExp } from "./simdMath.ts";

export function addRowKernels(module: ModuleBuilder): void {
  module.addFunction("softmaxRows", emitSoftmax());
  module.addFunction("softmaxBackwardRows", emitSoftmaxBackward());
  module.addFunction("layerNormRows", emitLayerNorm());
  module.addFunction("layerNormBackwardRows", emitLayerNormBackward());
}

const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** Pushes the two f64 lanes of the low (or high) half of a f32x4 local. */
function half(f: FunctionBuilder, v: Local, upper: boolean): void {
  f.get(v);
  if (upper) f.get(v).shuffle(HIGH);
  f.op("f64x2.promote_low_f32x4");
}

/** Pushes the f32x4 made of two f64x2 locals (rounded). */
function join(f: FunctionBuilder, lo: Local, hi: Local): void {
  f.get(lo).op("f32x4.demote_f64x2_zero").get(hi).op("f32x4.demote_f64x2_zero");
  f.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
}

/** Pushes the sum of the lanes of f64x2 locals. */
function lanesSum(f: FunctionBuilder, ...accs: Local[]): void {
  f.get(accs[0]);
  for (const a of accs.slice(1)) f.get(a).op("f64x2.add");
  const t = f.local(V128);
  f.tee(t).f64x2ExtractLane(0).get(t).f64x2ExtractLane(1).op("f64.add");
}

/** Loops `body(p)` over the whole vectors of a row (count = d >> 2), advancing the given pointers by 16. */
function vectors(f: FunctionBuilder, d: Local, ptrs: Local[], body: () => void): void {
  const n = f.local(I32);
  f.get(d).i32Const(2).op("i32.shr_u").set(n);
  whileNot(
    f,
    () => f.get(n).op("i32.eqz"),
    () => {
      body();
      for (const p of ptrs) inc(f, p, 16);
      inc(f, n, -1);
    },
  );
}

/** Loops `body()` over the last d & 3 elements of a row, advancing the given pointers by 4. */
function tail(f: FunctionBuilder, d: Local, ptrs: Local[], body: () => void): void {
  const n = f.local(I32);
  f.get(d).i32Const(3).op("i32.and").set(n);
  whileNot(
    f,
    () => f.get(n).op("i32.eqz"),
    () => {
      body();
      for (const p of ptrs) inc(f, p, 4);
      inc(f, n, -1);
    },
  );
}

const loadF64 = (f: FunctionBuilder, p: Local) => f.get(p).mem("f32.load").op("f64.promote_f32");

/**
 * softmaxRows(x, out, d, rows): out = e^{x−m} / Σ e^{x−m} per row, m the row's max (0 when it is
 * ±inf, as in the reference). A row's last d & 3 elements go through a vector padded with −inf
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
      // A +inf in the row: the reference's Σ is inf, so each element is e^x/inf: NaN where e^x
      // overflows float64 (x ≥ 709.78…, inf included), else 0.
      f.get(mx).f64Const(Infinity).op("f64.eq").if();
      f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").get(x).op("i32.add").set(p);
      f.get(q).set(k);
      const infRow = () =>
        f.f32x4Const(Number.NaN).f32x4Const(0).get(v).f32x4Const(709.78271484375).op("f32x4.ge").op("v128.bitselect");
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

/**
 * layerNormRows(x, w, b, out, mean, rstd, d, rows, epsAt): per row μ = Σx/d, σ² = Σ(x−μ)²/d (two
 * passes, float64), r = 1/√(σ² + eps) (eps a float64 at epsAt); x̂ = (x−μ)·r in float64, then
 * out = x̂·w + b in float32; writes μ and r.
 */
function emitLayerNorm(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [x, w, b, out, mean, rstd, d, rows, epsAt] = f.params;
  const [r, px, pw, pb, po] = Array.from({ length: 5 }, () => f.local(I32));
  const [v, a0, a1, mu, rs, lo, hi] = Array.from({ length: 7 }, () => f.local(V128));
  const [s, fmu, frs, fd] = [f.local(F64), f.local(F64), f.local(F64), f.local(F64)];
  const rowStart = () => f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").get(x).op("i32.add").set(px);
  f.get(d).op("f64.convert_i32_s").set(fd);
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      // μ
      rowStart();
      f.f64x2Const(0).set(a0).f64x2Const(0).set(a1);
      vectors(f, d, [px], () => {
        f.get(px).mem("v128.load").set(v);
        f.get(a0);
        half(f, v, false);
        f.op("f64x2.add").set(a0).get(a1);
        half(f, v, true);
        f.op("f64x2.add").set(a1);
      });
      lanesSum(f, a0, a1);
      f.set(s);
      tail(f, d, [px], () => {
        f.get(s);
        loadF64(f, px);
        f.op("f64.add").set(s);
      });
      f.get(s).get(fd).op("f64.div").tee(fmu).op("f64x2.splat").set(mu);
      // σ², then r
      rowStart();
      f.f64x2Const(0).set(a0).f64x2Const(0).set(a1);
      vectors(f, d, [px], () => {
        f.get(px).mem("v128.load").set(v);
        for (const [acc, upper] of [
          [a0, false],
          [a1, true],
        ] as const) {
          half(f, v, upper);
          f.get(mu).op("f64x2.sub").tee(lo).get(lo).op("f64x2.mul").get(acc).op("f64x2.add").set(acc);
        }
      });
      lanesSum(f, a0, a1);
      f.set(s);
      tail(f, d, [px], () => {
        loadF64(f, px);
        f.get(fmu).op("f64.sub").tee(frs).get(frs).op("f64.mul").get(s).op("f64.add").set(s);
      });
      f.f64Const(1).get(s).get(fd).op("f64.div").get(epsAt).mem("f64.load").op("f64.add").op("f64.sqrt").op("f64.div");
      f.tee(frs).op("f64x2.splat").set(rs);
      at4(f, mean, r);
      f.get(fmu).op("f32.demote_f64").mem("f32.store");
      at4(f, rstd, r);
      f.get(frs).op("f32.demote_f64").mem("f32.store");
      // out = x̂·w + b
      rowStart();
      f.get(w).set(pw).get(b).set(pb);
      f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").get(out).op("i32.add").set(po);
      vectors(f, d, [px, pw, pb, po], () => {
        f.get(px).mem("v128.load").set(v);
        for (const [res, upper] of [
          [lo, false],
          [hi, true],
        ] as const) {
          half(f, v, upper);
          f.get(mu).op("f64x2.sub").get(rs).op("f64x2.mul").set(res);
        }
        f.get(po);
        join(f, lo, hi);
        f.get(pw).mem("v128.load").op("f32x4.mul").get(pb).mem("v128.load").op("f32x4.add").mem("v128.store");
      });
      tail(f, d, [px, pw, pb, po], () => {
        f.get(po);
        loadF64(f, px);
        f.get(fmu).op("f64.sub").get(frs).op("f64.mul").op("f32.demote_f64");
        f.get(pw).mem("f32.load").op("f32.mul").get(pb).mem("f32.load").op("f32.add").mem("f32.store");
      });
    },
  );
  return f;
}

/**
 * layerNormBackwardRows(dy, x, w, mean, rstd, dx, partial, d, rows, flags): with g = dy·w and
 * x̂ = (x−μ)·r, dx = r·(g − mean(g) − x̂·mean(g·x̂)) (flags & 1); and (flags & 2) adds Σ dy·x̂ and
 * Σ dy over these rows into partial[0..d) and partial[d..2d) (float64: the caller zeroes them and
 * sums the tasks' partials). All in float64.
 */
function emitLayerNormBackward(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [dy, x, w, mean, rstd, dx, partial, d, rows, flags] = f.params;
  const [r, px, pg, pw, po, pp, pq] = Array.from({ length: 7 }, () => f.local(I32));
  const [vx, vg, vw, a0, a1, c0, c1, mu, rs, mg, mgx, xh, g, lo, hi] = Array.from({ length: 15 }, () => f.local(V128));
  const [sG, sGX, fd, fmu, frs, sxh, sg] = Array.from({ length: 7 }, () => f.local(F64));
  const rowStart = () => {
    f.get(r).get(d).op("i32.mul").i32Const(2).op("i32.shl").tee(po).get(x).op("i32.add").set(px);
    f.get(po).get(dy).op("i32.add").set(pg);
    f.get(po).get(dx).op("i32.add").set(po);
    f.get(w).set(pw).get(partial).set(pp);
    f.get(d).i32Const(3).op("i32.shl").get(partial).op("i32.add").set(pq);
  };
  /** xh, g (f64x2) of one half of the current vectors */
  const halves = (upper: boolean) => {
    half(f, vx, upper);
    f.get(mu).op("f64x2.sub").get(rs).op("f64x2.mul").set(xh);
    half(f, vg, upper);
    half(f, vw, upper);
    f.op("f64x2.mul").set(g);
  };
  f.get(d).op("f64.convert_i32_s").set(fd);
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      at4(f, mean, r);
      f.mem("f32.load").op("f64.promote_f32").tee(fmu).op("f64x2.splat").set(mu);
      at4(f, rstd, r);
      f.mem("f32.load").op("f64.promote_f32").tee(frs).op("f64x2.splat").set(rs);
      // Pass 1: Σ g, Σ g·x̂, and the partial dw, db.
      rowStart();
      for (const a of [a0, a1, c0, c1]) f.f64x2Const(0).set(a);
      vectors(f, d, [px, pg, pw, pp, pq], () => {
        f.get(px).mem("v128.load").set(vx).get(pg).mem("v128.load").set(vg).get(pw).mem("v128.load").set(vw);
        for (const [upper, ag, agx] of [
          [false, a0, c0],
          [true, a1, c1],
        ] as const) {
          halves(upper);
          f.get(ag).get(g).op("f64x2.add").set(ag);
          f.get(agx).get(g).get(xh).op("f64x2.mul").op("f64x2.add").set(agx);
          f.get(flags).i32Const(2).op("i32.and").if();
          const off = upper ? 16 : 0;
          f.get(pp).get(pp).mem("v128.load", off);
          half(f, vg, upper);
          f.get(xh).op("f64x2.mul").op("f64x2.add").mem("v128.store", off);
          f.get(pq).get(pq).mem("v128.load", off);
          half(f, vg, upper);
          f.op("f64x2.add").mem("v128.store", off);
          f.end();
        }
        // (the partial pointers advance by 32 bytes per 4 columns: 16 here, 16 by the loop)
        inc(f, pp, 16);
        inc(f, pq, 16);
      });
      lanesSum(f, a0, a1);
      f.set(sG);
      lanesSum(f, c0, c1);
      f.set(sGX);
      tail(f, d, [px, pg, pw], () => {
        loadF64(f, px);
        f.get(fmu).op("f64.sub").get(frs).op("f64.mul").set(sxh);
        loadF64(f, pg);
        loadF64(f, pw);
        f.op("f64.mul").set(sg);
        f.get(sG).get(sg).op("f64.add").set(sG);
        f.get(sGX).get(sg).get(sxh).op("f64.mul").op("f64.add").set(sGX);
        f.get(flags).i32Const(2).op("i32.and").if();
        f.get(pp).get(pp).mem("f64.load");
        loadF64(f, pg);
        f.get(sxh).op("f64.mul").op("f64.add").mem("f64.store");
        f.get(pq).get(pq).mem("f64.load");
        loadF64(f, pg);
        f.op("f64.add").mem("f64.store");
        f.end();
        inc(f, pp, 8);
        inc(f, pq, 8);
      });
      // Pass 2: dx.
      f.get(flags).i32Const(1).op("i32.and").if();
      f.get(sG).get(fd).op("f64.div").tee(sG).op("f64x2.splat").set(mg);
      f.get(sGX).get(fd).op("f64.div").tee(sGX).op("f64x2.splat").set(mgx);
      rowStart();
      vectors(f, d, [px, pg, pw, po], () => {
        f.get(px).mem("v128.load").set(vx).get(pg).mem("v128.load").set(vg).get(pw).mem("v128.load").set(vw);
        for (const [res, upper] of [
          [lo, false],
          [hi, true],
        ] as const) {
          halves(upper);
          f.get(g).get(mg).op("f64x2.sub").get(xh).get(mgx).op("f64x2.mul").op("f64x2.sub").get(rs).op("f64x2.mul");
          f.set(res);
        }
        f.get(po);
        join(f, lo, hi);
        f.mem("v128.store");
      });
      tail(f, d, [px, pg, pw, po], () => {
        f.get(po);
        loadF64(f, pg);
        loadF64(f, pw);
        f.op("f64.mul").get(sG).op("f64.sub");
        loadF64(f, px);
        f.get(fmu).op("f64.sub").get(frs).op("f64.mul").get(sGX).op("f64.mul").op("f64.sub");
        f.get(frs).op("f64.mul").op("f32.demote_f64").mem("f32.store");
      });
      f.end();
    },
  );
  return f;
}
