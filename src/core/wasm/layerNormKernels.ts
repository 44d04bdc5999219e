// Emits layer norm over contiguous rows and its backward pass (Ba et al. 2016; the semantics of
// hostKernels.layerNorm). Means, variances and the backward sums accumulate in float64, and x − μ
// is taken in float64, so the results stay within a few float32 ulps of the reference.
import { FunctionBuilder, F64, I32, type ModuleBuilder, V128 } from "./assembler.ts";
import { at4, forRange, inc, kernelFunction } from "./emit.ts";
import { half, join, lanesSum, loadF64, tail, vectors } from "./rowLoops.ts";

export function addLayerNormKernels(module: ModuleBuilder): void {
  module.addFunction("layerNormRows", emitLayerNorm());
  module.addFunction("layerNormBackwardRows", emitLayerNormBackward());
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
