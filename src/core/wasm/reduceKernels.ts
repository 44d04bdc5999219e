// Emits the reduction kernels: sum / max / min over contiguous rows (the last axis) and over the
// middle axis of an [outer, red, inner] layout with contiguous columns (sums over leading axes: bias
// gradients). Sums accumulate in float64, so they match the reference's float64 loop to within its
// final rounding; max and min follow the reference exactly: NaN wins, and among equal values (±0)
// the first one in order is kept.
import { FunctionBuilder, F32, F64, I32, type Local, type ModuleBuilder, V128 } from "./assembler.ts";
import { at4, forRange, inc, kernelFunction, whileNot } from "./emit.ts";

export const REDUCE_OPS = ["sum", "max", "min"] as const;

export function addReduceKernels(module: ModuleBuilder): void {
  module.addFunction("reduceRows", emitReduceRows());
  module.addFunction("reduceColumns", emitReduceColumns());
}

/** Pushes the high two f32 lanes of a v128 local moved to the low lanes. */
function high(f: FunctionBuilder, v: Local): void {
  f.get(v).get(v).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
}

/** acc += the two f64 lanes promoted from the low (or high) half of v. */
function addHalf(f: FunctionBuilder, acc: Local, v: Local, upper: boolean): void {
  f.get(acc);
  if (upper) high(f, v);
  else f.get(v);
  f.op("f64x2.promote_low_f32x4").op("f64x2.add").set(acc);
}

/**
 * reduceRows(op, src, rowStride, len, rows, dst, f64out): for each of `rows` rows (row r at byte
 * address src + r·rowStride, `len` contiguous floats) writes its reduction to dst[r], as float32, or
 * as float64 when f64out (partial results the caller combines).
 */
function emitReduceRows(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [op, src, rowStride, len, rows, dst, f64out] = f.params;
  const [r, p, nv, rest, isNan] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const [acc0, acc1, acc2, acc3, v, w, m, nan] = Array.from({ length: 8 }, () => f.local(V128));
  const total = f.local(F64);
  const x = f.local(F32);
  const best = f.local(F32);

  const store = () => {
    f.get(f64out).if();
    f.get(dst).get(r).i32Const(3).op("i32.shl").op("i32.add").get(total).mem("f64.store");
    f.else();
    at4(f, dst, r);
    f.get(total).op("f32.demote_f64").mem("f32.store");
    f.end();
  };
  const rowStart = () => f.get(src).get(r).get(rowStride).op("i32.mul").op("i32.add").set(p);

  f.get(op).op("i32.eqz").if(); // ---- sum
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      rowStart();
      for (const a of [acc0, acc1, acc2, acc3]) f.f64x2Const(0).set(a);
      f.get(len).i32Const(3).op("i32.shr_u").set(nv);
      whileNot(
        f,
        () => f.get(nv).op("i32.eqz"),
        () => {
          f.get(p).mem("v128.load").set(v).get(p).mem("v128.load", 16).set(w);
          addHalf(f, acc0, v, false);
          addHalf(f, acc1, v, true);
          addHalf(f, acc2, w, false);
          addHalf(f, acc3, w, true);
          inc(f, p, 32);
          inc(f, nv, -1);
        },
      );
      f.get(acc0).get(acc1).op("f64x2.add").get(acc2).get(acc3).op("f64x2.add").op("f64x2.add").set(acc0);
      f.get(acc0).f64x2ExtractLane(0).get(acc0).f64x2ExtractLane(1).op("f64.add").set(total);
      f.get(len).i32Const(7).op("i32.and").set(rest);
      whileNot(
        f,
        () => f.get(rest).op("i32.eqz"),
        () => {
          f.get(total).get(p).mem("f32.load").op("f64.promote_f32").op("f64.add").set(total);
          inc(f, p, 4);
          inc(f, rest, -1);
        },
      );
      store();
    },
  );
  f.else(); // ---- max (op 1) or min (op 2)
  const isMax = () => f.get(op).i32Const(1).op("i32.eq");
  forRange(
    f,
    r,
    () => f.i32Const(0),
    rows,
    () => {
      rowStart();
      isMax().if();
      f.f32x4Const(-Infinity).set(m).f32Const(-Infinity).set(best);
      f.else();
      f.f32x4Const(Infinity).set(m).f32Const(Infinity).set(best);
      f.end();
      f.i32x4Const(0).set(nan);
      f.get(len).i32Const(2).op("i32.shr_u").set(nv);
      whileNot(
        f,
        () => f.get(nv).op("i32.eqz"),
        () => {
          f.get(p).mem("v128.load").set(v);
          // pmax(m, v) = m < v ? v : m: the first of equal values stays.
          isMax().if();
          f.get(m).get(v).op("f32x4.pmax").set(m);
          f.else();
          f.get(m).get(v).op("f32x4.pmin").set(m);
          f.end();
          f.get(nan).get(v).get(v).op("f32x4.ne").op("v128.or").set(nan);
          inc(f, p, 16);
          inc(f, nv, -1);
        },
      );
      f.get(nan).op("v128.any_true").set(isNan);
      // Lanes, then the tail, in a fixed order (ties between ±0 are settled below).
      for (let lane = 0; lane < 4; lane++) pickScalar(f, isMax, () => f.get(m).f32x4ExtractLane(lane), best);
      f.get(len).i32Const(3).op("i32.and").set(rest);
      whileNot(
        f,
        () => f.get(rest).op("i32.eqz"),
        () => {
          f.get(p).mem("f32.load").set(x);
          f.get(x).get(x).op("f32.ne").get(isNan).op("i32.or").set(isNan);
          pickScalar(f, isMax, () => f.get(x), best);
          inc(f, p, 4);
          inc(f, rest, -1);
        },
      );
      // A zero result takes the sign of the first zero in the row, as the reference's loop does.
      f.get(best).f32Const(0).op("f32.eq").if();
      rowStart();
      f.get(len).set(rest);
      f.block().loop();
      f.get(rest).op("i32.eqz").brIf(1);
      f.get(p).mem("f32.load").tee(x).f32Const(0).op("f32.eq").if();
      f.get(x).set(best).br(2);
      f.end();
      inc(f, p, 4);
      inc(f, rest, -1);
      f.br(0).end().end();
      f.end();
      f.f64Const(Number.NaN).get(best).op("f64.promote_f32").get(isNan).op("select").set(total);
      store();
    },
  );
  f.end();
  return f;
}

/** best = value ≻ best ? value : best (≻ is > for max, < for min). */
function pickScalar(f: FunctionBuilder, isMax: () => void, value: () => void, best: Local): void {
  const x = f.local(F32);
  value();
  f.set(x);
  f.get(x).get(best);
  f.get(x).get(best).op("f32.gt").get(x).get(best).op("f32.lt");
  isMax();
  f.op("select").op("select").set(best);
}

/**
 * reduceColumns(op, src, outerStride, o0, o1, i0, i1, redStride, inner, j0, j1, dst, f64out):
 * out[o·inner + j] = reduce over i in [i0, i1) of src[o·outerStride + i·redStride + j] (element
 * strides), for o in [o0, o1) and j in [j0, j1). Columns go in strips of 16 (then 4, then 1) whose
 * accumulators stay in registers while the strip walks down the reduced axis: each column is one
 * sequential pass, as in the reference. f64out writes float64 partials.
 */
function emitReduceColumns(): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [op, src, outerStride, o0, o1, i0, i1, redStride, inner, j0, j1, dst, f64out] = f.params;
  const [o, j, p, step, count, outAt] = Array.from({ length: 6 }, () => f.local(I32));
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const nan = Array.from({ length: 4 }, () => f.local(V128));
  const v = f.local(V128);
  const x = f.local(F32);
  const sum = f.local(F64);
  const scalarNan = f.local(I32);

  /** Writes the value pushed by `value` (float64) as column j + c of row o. */
  const store = (c: number, value: () => void) => {
    f.get(f64out).if();
    f.get(outAt).i32Const(3).op("i32.shl").get(dst).op("i32.add");
    value();
    f.mem("f64.store", 8 * c);
    f.else();
    at4(f, dst, outAt);
    value();
    f.op("f32.demote_f64").mem("f32.store", 4 * c);
    f.end();
  };
  /** Walks the strip of `width` columns at j down the reduced axis: `row()` once per element row. */
  const walk = (row: () => void) => {
    f.get(o).get(outerStride).op("i32.mul").get(i0).get(redStride).op("i32.mul").op("i32.add").get(j).op("i32.add");
    f.i32Const(2).op("i32.shl").get(src).op("i32.add").set(p);
    f.get(i1).get(i0).op("i32.sub").set(count);
    whileNot(
      f,
      () => f.get(count).i32Const(0).op("i32.le_s"),
      () => {
        row();
        inc(f, p, step);
        inc(f, count, -1);
      },
    );
  };
  /** One strip of `vectors` × 4 columns (sum, or max/min by `pick`). */
  const strip = (vectors: number, kind: "sum" | "pmax" | "pmin") => {
    for (let q = 0; q < 2 * vectors; q++)
      if (kind === "sum") f.f64x2Const(0).set(acc[q]);
      else if (q < vectors)
        f.f32x4Const(kind === "pmax" ? -Infinity : Infinity)
          .set(acc[q])
          .i32x4Const(0)
          .set(nan[q]);
    walk(() => {
      for (let q = 0; q < vectors; q++) {
        f.get(p)
          .mem("v128.load", 16 * q)
          .set(v);
        if (kind === "sum") {
          addHalf(f, acc[2 * q], v, false);
          addHalf(f, acc[2 * q + 1], v, true);
        } else {
          // pmax(acc, v) = acc < v ? v : acc: the first of equal values stays
          f.get(acc[q])
            .get(v)
            .op(kind === "pmax" ? "f32x4.pmax" : "f32x4.pmin")
            .set(acc[q]);
          f.get(nan[q]).get(v).get(v).op("f32x4.ne").op("v128.or").set(nan[q]);
        }
      }
    });
    for (let c = 0; c < 4 * vectors; c++)
      store(c, () => {
        if (kind === "sum") f.get(acc[c >> 1]).f64x2ExtractLane(c & 1);
        else {
          f.f64Const(Number.NaN)
            .get(acc[c >> 2])
            .f32x4ExtractLane(c & 3)
            .op("f64.promote_f32");
          f.get(nan[c >> 2]).i32x4ExtractLane(c & 3);
          f.op("select");
        }
      });
  };
  /** One column, element by element. */
  const column = (kind: "sum" | "pmax" | "pmin") => {
    if (kind === "sum") f.f64Const(0).set(sum);
    else
      f.f64Const(kind === "pmax" ? -Infinity : Infinity)
        .set(sum)
        .i32Const(0)
        .set(scalarNan);
    walk(() => {
      f.get(p).mem("f32.load").set(x);
      if (kind === "sum") f.get(sum).get(x).op("f64.promote_f32").op("f64.add").set(sum);
      else {
        f.get(x).get(x).op("f32.ne").get(scalarNan).op("i32.or").set(scalarNan);
        f.get(x).op("f64.promote_f32").get(sum).get(x).op("f64.promote_f32").get(sum);
        f.op(kind === "pmax" ? "f64.gt" : "f64.lt")
          .op("select")
          .set(sum);
      }
    });
    store(0, () => {
      if (kind === "sum") f.get(sum);
      else f.f64Const(Number.NaN).get(sum).get(scalarNan).op("select");
    });
  };
  const stripsOf = (kind: "sum" | "pmax" | "pmin") => {
    f.get(j0).set(j);
    for (const [width, emit] of [
      [16, () => strip(4, kind)],
      [4, () => strip(1, kind)],
      [1, () => column(kind)],
    ] as [number, () => void][]) {
      whileNot(
        f,
        () => f.get(j).i32Const(width).op("i32.add").get(j1).op("i32.gt_s"),
        () => {
          f.get(o).get(inner).op("i32.mul").get(j).op("i32.add").set(outAt);
          emit();
          inc(f, j, width);
        },
      );
    }
  };

  f.get(redStride).i32Const(2).op("i32.shl").set(step);
  forRange(
    f,
    o,
    () => f.get(o0),
    o1,
    () => {
      f.get(op).op("i32.eqz").if();
      stripsOf("sum");
      f.else();
      f.get(op).i32Const(1).op("i32.eq").if();
      stripsOf("pmax");
      f.else();
      stripsOf("pmin");
      f.end().end();
    },
  );
  return f;
}
