// The block interpreter's data movement (elementwiseKernel.ts): copying runs of floats with strides,
// and walking a range of elements of a strided operand in row-major order of the iteration shape, one
// run along the innermost dimension at a time (gathering into a register, or scattering out of one).
import { FunctionBuilder, I32, type Local, V128 } from "./assembler.ts";
import { inc, whileNot } from "./emit.ts";

/**
 * copy(dst, dstStride, src, srcStride, count): count floats, strides in bytes. Both strides 4: whole
 * vectors then a scalar tail (never writing past dst's count); a stride-0 source is one value.
 */
export function emitCopy(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32], []);
  const [dst, ds, src, ss, count] = f.params;
  const nv = f.local(I32);
  const v = f.local(V128);
  f.get(ds).i32Const(4).op("i32.eq").get(ss).i32Const(4).op("i32.eq").op("i32.and").if();
  f.get(count).i32Const(2).op("i32.shr_u").set(nv);
  whileNot(
    f,
    () => f.get(nv).op("i32.eqz"),
    () => {
      f.get(dst).get(src).mem("v128.load").mem("v128.store");
      inc(f, dst, 16);
      inc(f, src, 16);
      inc(f, nv, -1);
    },
  );
  f.get(count).i32Const(3).op("i32.and").set(count);
  f.end();
  f.get(ss).op("i32.eqz").get(ds).i32Const(4).op("i32.eq").op("i32.and").if();
  // A splat: vector stores may run 3 floats past count (the scratch slots have room for that).
  f.get(src).mem("v128.load32_splat").set(v);
  whileNot(
    f,
    () => f.get(count).i32Const(0).op("i32.le_s"),
    () => {
      f.get(dst).get(v).mem("v128.store");
      inc(f, dst, 16);
      inc(f, count, -4);
    },
  );
  f.end();
  whileNot(
    f,
    () => f.get(count).i32Const(0).op("i32.le_s"),
    () => {
      f.get(dst).get(src).mem("f32.load").mem("f32.store");
      inc(f, dst, ds);
      inc(f, src, ss);
      inc(f, count, -1);
    },
  );
  return f;
}

/**
 * walk(operand, shape, rank, index, e0, len, buffer, scatter): moves elements e0 .. e0+len-1 (in
 * row-major order of the iteration shape) of a strided operand into the contiguous buffer, or out
 * of it when `scatter`, one run along the innermost dimension at a time.
 */
export function emitWalk(copy: number): FunctionBuilder {
  const f = new FunctionBuilder(new Array(8).fill(I32), []);
  const [opd, shape, rank, index, e0, len, buffer, scatter] = f.params;
  const [rem, d, seg, addr, s, last, inner, at] = Array.from({ length: 8 }, () => f.local(I32));
  const idx = (dim: Local | number) => {
    f.get(index);
    if (typeof dim === "number") f.i32Const(4 * dim);
    else f.get(dim).i32Const(2).op("i32.shl");
    f.op("i32.add");
  };
  const dimOf = (base: Local, offset: number, dim: Local) =>
    f.get(base).get(dim).i32Const(2).op("i32.shl").op("i32.add").mem("i32.load", offset);
  f.get(rank).i32Const(1).op("i32.sub").set(last);
  // Unravel e0 into the odometer.
  f.get(e0).set(rem).get(last).set(d);
  f.loop();
  idx(d);
  f.get(rem);
  dimOf(shape, 0, d);
  f.op("i32.rem_u").mem("i32.store");
  f.get(rem);
  dimOf(shape, 0, d);
  f.op("i32.div_u").set(rem);
  inc(f, d, -1);
  f.get(d).i32Const(0).op("i32.ge_s").brIf(0).end();
  dimOf(shape, 0, last);
  f.set(inner);
  dimOf(opd, 8, last);
  f.set(s);
  whileNot(
    f,
    () => f.get(len).i32Const(0).op("i32.le_s"),
    () => {
      // seg = min(inner - index[last], len)
      f.get(inner);
      idx(last);
      f.mem("i32.load").op("i32.sub").set(seg);
      f.get(seg).get(len).get(seg).get(len).op("i32.lt_s").op("select").set(seg);
      // addr = base + Σ index[d]·stride[d]
      f.get(opd).mem("i32.load", 4).set(addr).i32Const(0).set(d);
      whileNot(
        f,
        () => f.get(d).get(rank).op("i32.ge_s"),
        () => {
          f.get(addr);
          idx(d);
          f.mem("i32.load");
          dimOf(opd, 8, d);
          f.op("i32.mul").op("i32.add").set(addr);
          inc(f, d, 1);
        },
      );
      f.get(scatter).if();
      f.get(addr).get(s).get(buffer).i32Const(4).get(seg).call(copy);
      f.else();
      f.get(buffer).i32Const(4).get(addr).get(s).get(seg).call(copy);
      f.end();
      f.get(buffer).get(seg).i32Const(2).op("i32.shl").op("i32.add").set(buffer);
      f.get(len).get(seg).op("i32.sub").set(len);
      // Advance the odometer by seg, carrying into outer dims.
      f.get(last).set(d);
      idx(d);
      f.set(at);
      f.get(at).get(at).mem("i32.load").get(seg).op("i32.add").mem("i32.store");
      whileNot(
        f,
        () => {
          // exit unless d > 0 && index[d] >= shape[d]
          f.get(d).i32Const(0).op("i32.gt_s");
          idx(d);
          f.mem("i32.load");
          dimOf(shape, 0, d);
          f.op("i32.ge_s").op("i32.and").op("i32.eqz");
        },
        () => {
          idx(d);
          f.i32Const(0).mem("i32.store");
          inc(f, d, -1);
          idx(d);
          f.set(at);
          f.get(at).get(at).mem("i32.load").i32Const(1).op("i32.add").mem("i32.store");
        },
      );
    },
  );
  return f;
}
