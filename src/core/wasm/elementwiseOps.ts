// The vector code of each elementwise op for the block interpreter (elementwiseKernel.ts): each entry
// reads its operand registers (v128 locals) and pushes the result. Semantics are those of
// hostKernels' unaryFns / binaryFns, NaN, ±inf and ±0 included (test/core/cpuElementwise.test.ts).
import type { BinaryOp, UnaryOp } from "../backend.ts";
import { type FunctionBuilder, I32, type Local, V128 } from "./assembler.ts";
import { whileNot } from "./emit.ts";
import { mathImportIndex } from "./mathImports.ts";
import * as M from "./simdMath.ts";
import { emitGelu64, emitGeluDerivative64 } from "./simdMath64.ts";

export interface Regs {
  a: Local;
  b: Local;
  c: Local;
}

/** The vector code of each unary op: reads regs.a, pushes the result. */
export const UNARY_CODE: { [P in UnaryOp]: (f: FunctionBuilder, r: Regs) => void } = {
  identity: (f, r) => f.get(r.a),
  neg: (f, r) => f.get(r.a).op("f32x4.neg"),
  exp: (f, r) => M.emitExp(f, r.a),
  log: (f, r) => M.emitLog(f, r.a),
  sqrt: (f, r) => f.get(r.a).op("f32x4.sqrt"),
  rsqrt: (f, r) => f.f32x4Const(1).get(r.a).op("f32x4.sqrt").op("f32x4.div"),
  abs: (f, r) => f.get(r.a).op("f32x4.abs"),
  tanh: (f, r) => M.emitTanh(f, r.a),
  erf: (f, r) => M.emitErf(f, r.a),
  sigmoid: (f, r) => M.emitSigmoid(f, r.a),
  // x > 0 ? x : NaN stays NaN, else +0
  relu: (f, r) =>
    f.get(r.a).get(r.a).f32x4Const(0).op("f32x4.gt").get(r.a).get(r.a).op("f32x4.ne").op("v128.or").op("v128.and"),
  sin: (f, r) => perLane(f, r, "sin"),
  cos: (f, r) => perLane(f, r, "cos"),
  // x > 0 ? 1 : x < 0 ? -1 : x (±0 and NaN stay)
  sign: (f, r) => {
    f.f32x4Const(-1).f32x4Const(1).get(r.a).get(r.a).f32x4Const(0).op("f32x4.gt").op("v128.bitselect");
    f.get(r.a).f32x4Const(0).op("f32x4.lt").op("v128.bitselect");
  },
  floor: (f, r) => f.get(r.a).op("f32x4.floor"),
  gelu: (f, r) => emitGelu64(f, r.a),
  geluDerivative: (f, r) => emitGeluDerivative64(f, r.a),
};

const compare = (op: "f32x4.eq" | "f32x4.ne" | "f32x4.lt" | "f32x4.le" | "f32x4.gt" | "f32x4.ge") => {
  return (f: FunctionBuilder, r: Regs) => f.get(r.a).get(r.b).op(op).f32x4Const(1).op("v128.and");
};
/** a ≻ b ? a : b, or NaN if either is NaN (all-ones bits are a NaN). */
const extremum = (gt: "f32x4.gt" | "f32x4.lt") => (f: FunctionBuilder, r: Regs) => {
  f.get(r.a).get(r.b).get(r.a).get(r.b).op(gt).op("v128.bitselect");
  f.get(r.a).get(r.a).op("f32x4.ne").get(r.b).get(r.b).op("f32x4.ne").op("v128.or").op("v128.or");
};

export const BINARY_CODE: { [P in BinaryOp]: (f: FunctionBuilder, r: Regs) => void } = {
  add: (f, r) => f.get(r.a).get(r.b).op("f32x4.add"),
  sub: (f, r) => f.get(r.a).get(r.b).op("f32x4.sub"),
  mul: (f, r) => f.get(r.a).get(r.b).op("f32x4.mul"),
  div: (f, r) => f.get(r.a).get(r.b).op("f32x4.div"),
  pow: (f, r) => perLane(f, r, "pow"),
  maximum: extremum("f32x4.gt"),
  minimum: extremum("f32x4.lt"),
  eq: compare("f32x4.eq"),
  ne: compare("f32x4.ne"),
  lt: compare("f32x4.lt"),
  le: compare("f32x4.le"),
  gt: compare("f32x4.gt"),
  ge: compare("f32x4.ge"),
};

/** Calls Math[name] on each lane in float64 (exact to the reference; for the rare ops). */
function perLane(f: FunctionBuilder, r: Regs, name: "sin" | "cos" | "pow"): void {
  f.get(r.a);
  for (let lane = 0; lane < 4; lane++) {
    f.get(r.a).f32x4ExtractLane(lane).op("f64.promote_f32");
    if (name === "pow") f.get(r.b).f32x4ExtractLane(lane).op("f64.promote_f32");
    f.call(mathImportIndex(name)).op("f32.demote_f64").f32x4ReplaceLane(lane);
  }
}

/** x^n for an integer n (|n| small) by repeated squaring in float64, so each result rounds once. */
export function powi(f: FunctionBuilder, r: Regs, n: Local): void {
  const [lo, hi, blo, bhi] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const e = f.local(I32);
  f.get(r.a).op("f64x2.promote_low_f32x4").set(blo);
  f.get(r.a).get(r.a).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  f.op("f64x2.promote_low_f32x4").set(bhi);
  f.f64x2Const(1).set(lo).f64x2Const(1).set(hi);
  f.get(n).get(n).i32Const(31).op("i32.shr_s").op("i32.xor").get(n).i32Const(31).op("i32.shr_u").op("i32.add");
  f.set(e); // |n|
  whileNot(
    f,
    () => f.get(e).op("i32.eqz"),
    () => {
      f.get(e).i32Const(1).op("i32.and").if();
      f.get(lo).get(blo).op("f64x2.mul").set(lo).get(hi).get(bhi).op("f64x2.mul").set(hi);
      f.end();
      f.get(blo).get(blo).op("f64x2.mul").set(blo).get(bhi).get(bhi).op("f64x2.mul").set(bhi);
      f.get(e).i32Const(1).op("i32.shr_u").set(e);
    },
  );
  f.get(n).i32Const(0).op("i32.lt_s").if();
  f.f64x2Const(1).get(lo).op("f64x2.div").set(lo).f64x2Const(1).get(hi).op("f64x2.div").set(hi);
  f.end();
  f.get(lo).op("f32x4.demote_f64x2_zero").get(hi).op("f32x4.demote_f64x2_zero");
  f.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
}
