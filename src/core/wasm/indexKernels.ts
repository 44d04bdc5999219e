// Emits gather and scatterAdd along an axis of contiguous [outer, n, inner] operands (the semantics
// of hostKernels.gather / scatterAdd): by rows, where the index is constant along the inner dims
// (a token gather moves whole rows of the hidden size), or element by element. Indices arrive as
// float32 and already checked (integers in range) by the caller, so nothing is read or written
// outside the tensors.
import { FunctionBuilder, I32, type Local, type ModuleBuilder } from "./assembler.ts";
import { forRange, inc, kernelFunction, whileNot } from "./emit.ts";

export function addIndexKernels(module: ModuleBuilder): void {
  module.addFunction("gatherRows", emitRows("gather"));
  module.addFunction("scatterAddRows", emitRows("scatterAdd"));
  module.addFunction("gatherElements", emitElements("gather"));
  module.addFunction("scatterAddElements", emitElements("scatterAdd"));
}

/** dst[k] = src[k] (gather) or dst[k] += src[k] (scatterAdd) for k < count, four floats at a time. */
function run(f: FunctionBuilder, kind: "gather" | "scatterAdd", dst: Local, src: Local, count: Local): void {
  const [d, s, c] = [f.local(I32), f.local(I32), f.local(I32)];
  f.get(dst).set(d).get(src).set(s).get(count).set(c);
  whileNot(
    f,
    () => f.get(c).i32Const(4).op("i32.lt_s"),
    () => {
      f.get(d);
      if (kind === "gather") f.get(s).mem("v128.load");
      else f.get(d).mem("v128.load").get(s).mem("v128.load").op("f32x4.add");
      f.mem("v128.store");
      inc(f, d, 16);
      inc(f, s, 16);
      inc(f, c, -4);
    },
  );
  whileNot(
    f,
    () => f.get(c).op("i32.eqz"),
    () => {
      f.get(d);
      if (kind === "gather") f.get(s).mem("f32.load");
      else f.get(d).mem("f32.load").get(s).mem("f32.load").op("f32.add");
      f.mem("f32.store");
      inc(f, d, 4);
      inc(f, s, 4);
      inc(f, c, -1);
    },
  );
}

/** Pushes the byte address base + 4·((o·m + i)·inner + r). */
function address(
  f: FunctionBuilder,
  base: Local,
  o: Local,
  m: Local,
  i: () => void,
  inner: Local,
  r: Local | null,
): void {
  f.get(o).get(m).op("i32.mul");
  i();
  f.op("i32.add").get(inner).op("i32.mul");
  if (r) f.get(r).op("i32.add");
  f.i32Const(2).op("i32.shl").get(base).op("i32.add");
}

const indexAt = (f: FunctionBuilder, idx: Local, k: () => void) => {
  f.get(idx);
  k();
  f.i32Const(2).op("i32.shl").op("i32.add").mem("f32.load").op("i32.trunc_f32_s");
};

/**
 * gatherRows(x, idx, out, o0, o1, i0, i1, n, nx, inner): out[o, i, :] = x[o, idx[o·n + i], :];
 * scatterAddRows(out, idx, src, o0, o1, i0, i1, n, nb, inner, r0, r1): out[o, idx[o·n + i], r] += src[o, i, r]
 * for r in [r0, r1) (a task's columns: no two tasks write the same element).
 */
function emitRows(kind: "gather" | "scatterAdd"): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [a, idx, b, o0, o1, i0, i1, n, nOther, inner, r0, r1] = f.params;
  const [o, i, dst, src, count] = Array.from({ length: 5 }, () => f.local(I32));
  const row = () => indexAt(f, idx, () => f.get(o).get(n).op("i32.mul").get(i).op("i32.add"));
  forRange(
    f,
    o,
    () => f.get(o0),
    o1,
    () => {
      forRange(
        f,
        i,
        () => f.get(i0),
        i1,
        () => {
          if (kind === "gather") {
            // a = x, b = out
            address(f, b, o, n, () => f.get(i), inner, null);
            f.set(dst);
            address(f, a, o, nOther, row, inner, null);
            f.set(src);
            run(f, kind, dst, src, inner);
          } else {
            // a = out, b = src
            address(f, a, o, nOther, row, inner, r0);
            f.set(dst);
            address(f, b, o, n, () => f.get(i), inner, r0);
            f.set(src);
            f.get(r1).get(r0).op("i32.sub").set(count);
            run(f, kind, dst, src, count);
          }
        },
      );
    },
  );
  return f;
}

/**
 * gatherElements(x, idx, out, o0, o1, i0, i1, n, nx, inner, r0, r1): out[o, i, r] = x[o, idx[o, i, r], r];
 * scatterAddElements(out, idx, src, o0, o1, i0, i1, n, nb, inner, r0, r1): out[o, idx[o, i, r], r] += src[o, i, r]
 * for o, i, r in their ranges, i in order (repeated indices add up in the reference's order).
 */
function emitElements(kind: "gather" | "scatterAdd"): FunctionBuilder {
  const f = kernelFunction(FunctionBuilder);
  const [a, idx, b, o0, o1, i0, i1, n, nOther, inner, r0, r1] = f.params;
  const [o, i, r, k, at] = Array.from({ length: 5 }, () => f.local(I32));
  forRange(
    f,
    o,
    () => f.get(o0),
    o1,
    () => {
      forRange(
        f,
        i,
        () => f.get(i0),
        i1,
        () => {
          forRange(
            f,
            r,
            () => f.get(r0),
            r1,
            () => {
              // k = (o·n + i)·inner + r: the element of the index (and of out for gather, src for scatterAdd)
              f.get(o).get(n).op("i32.mul").get(i).op("i32.add").get(inner).op("i32.mul").get(r).op("i32.add").set(k);
              // at = (o·nOther + idx[k])·inner + r: the element of x (gather) or out (scatterAdd)
              f.get(o).get(nOther).op("i32.mul");
              indexAt(f, idx, () => f.get(k));
              f.op("i32.add").get(inner).op("i32.mul").get(r).op("i32.add").set(at);
              if (kind === "gather") {
                f.get(k).i32Const(2).op("i32.shl").get(b).op("i32.add");
                f.get(at).i32Const(2).op("i32.shl").get(a).op("i32.add").mem("f32.load").mem("f32.store");
              } else {
                f.get(at).i32Const(2).op("i32.shl").get(a).op("i32.add").tee(at);
                f.get(at).mem("f32.load").get(k).i32Const(2).op("i32.shl").get(b).op("i32.add").mem("f32.load");
                f.op("f32.add").mem("f32.store");
              }
            },
          );
        },
      );
    },
  );
  return f;
}
