// Elementwise primitives (unary maps, broadcasting binary ops, where), each with its VJP beside it.
// Each one is a one-instruction elementwise program; numbers stay constants inside the program.

import type { BinaryOp, Instruction, Program, UnaryOp } from "../backend.ts";
import { broadcastShapes, type Broadcast, type CheckBroadcast, type Shape } from "../shape.ts";
import { typed, type Tensor } from "../tensor.ts";
import { broadcastTo } from "./movement.ts";
import { checkOperand, emit, type Operand, type ShapeOf, type Vjp } from "./primitive.ts";

/**
 * Runs one instruction over broadcast operands: tensors become program inputs (broadcast to the
 * result's shape by stride-0 views), numbers become constants.
 */
function elementwise(
  op: string,
  operands: readonly Operand[],
  instruction: (regs: number[]) => Instruction,
  vjp: Vjp | null,
): Tensor {
  const tensors = operands.filter((x): x is Tensor => typeof x !== "number");
  const shape = tensors.reduce<Shape>((s, t) => broadcastShapes(op, s, t.shape), []);
  const code: Instruction[] = [];
  let next = 0;
  const regs = operands.map((x) => {
    code.push(typeof x === "number" ? { op: "const", value: x } : { op: "input", index: next++ });
    return code.length - 1;
  });
  code.push(instruction(regs));
  const program: Program = { code, outputs: [code.length - 1] };
  return emit({
    op,
    inputs: tensors.map((t) => broadcastTo(t, shape)),
    shape,
    launch: (be, ins, outs) => be.elementwise(program, ins, shape, outs),
    vjp,
    program,
  });
}

// ---- Unary primitives: y = f(x), and dx from (x, y, dy) ----

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const unaryVjp: { [P in UnaryOp]: ((x: Tensor, y: Tensor, dy: Tensor) => Tensor) | null } = {
  identity: (_x, _y, dy) => dy,
  neg: (_x, _y, dy) => neg(dy), //                       d(-x) = -dy
  exp: (_x, y, dy) => mul(dy, y), //                     d(exp x) = exp(x)·dy
  log: (x, _y, dy) => div(dy, x), //                     d(log x) = dy/x
  sqrt: (_x, y, dy) => div(dy, mul(y, 2)), //            d(√x) = dy/(2√x)
  rsqrt: (_x, y, dy) => mul(dy, mul(mul(y, mul(y, y)), -0.5)), // d(x^-½) = -½·x^-3/2·dy
  abs: (x, _y, dy) => mul(dy, sign(x)), //               d|x| = sign(x)·dy
  tanh: (_x, y, dy) => mul(dy, sub(1, mul(y, y))), //    d(tanh x) = (1 - tanh²x)·dy
  erf: (x, _y, dy) => mul(dy, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI)), // d(erf x) = 2/√π·e^(-x²)·dy
  sigmoid: (_x, y, dy) => mul(dy, mul(y, sub(1, y))), // dσ = σ(1-σ)·dy
  relu: (x, _y, dy) => mul(dy, gt(x, 0)), //             d(relu x) = [x > 0]·dy
  sin: (x, _y, dy) => mul(dy, cos(x)),
  cos: (x, _y, dy) => mul(dy, neg(sin(x))),
  sign: null, // piecewise constant: zero gradient
  floor: null,
  gelu: (x, _y, dy) => mul(dy, geluDerivative(x)), //   d(x·Φ(x)) = (Φ(x) + x·φ(x))·dy
  // d(Φ + xφ) = 2φ + x·φ' = φ·(2 - x²), with φ(x) = e^(-x²/2)/√(2π)
  geluDerivative: (x, _y, dy) => mul(dy, mul(mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI), sub(2, mul(x, x)))),
};

function unary(op: UnaryOp) {
  return <S extends Shape>(x: Tensor<S>): Tensor<S> => {
    checkOperand(x, op);
    const rule = unaryVjp[op];
    const y: Tensor = elementwise(op, [x], ([r]) => ({ op, x: r }), rule && ((dy) => [rule(x, y, dy)]));
    return typed<S>(y);
  };
}

export const identity = unary("identity");
export const neg = unary("neg");
export const exp = unary("exp");
export const log = unary("log");
export const sqrt = unary("sqrt");
export const rsqrt = unary("rsqrt");
export const abs = unary("abs");
export const tanh = unary("tanh");
export const erf = unary("erf");
export const sigmoid = unary("sigmoid");
export const relu = unary("relu");
export const sin = unary("sin");
export const cos = unary("cos");
export const sign = unary("sign");
export const floor = unary("floor");
/** GELU, exact: x·Φ(x) (HF "gelu"): one kernel, where the composite takes five. */
export const gelu = unary("gelu");
/** Φ(x) + x·φ(x), GELU's slope (its own VJP makes GELU twice differentiable). */
export const geluDerivative = unary("geluDerivative");

// ---- Binary primitives with numpy broadcasting ----
// Every gradient goes back through `unbroadcast`, which sums dy over the broadcast dims.

type BinaryRule = (
  a: Operand,
  b: Operand,
  y: Tensor,
  dy: Tensor,
  needs: readonly boolean[],
) => [Operand | null, Operand | null];

const binaryVjp: { [P in BinaryOp]: BinaryRule | null } = {
  add: (_a, _b, _y, dy) => [dy, dy],
  sub: (_a, _b, _y, dy, n) => [dy, n[1] ? neg(dy) : null],
  mul: (a, b, _y, dy, n) => [n[0] ? mul(dy, b) : null, n[1] ? mul(dy, a) : null],
  // d(a/b) = dy/b, -dy·a/b²
  div: (_a, b, y, dy, n) => [n[0] ? div(dy, b) : null, n[1] ? neg(div(mul(dy, y), b)) : null],
  // d(aᵇ) = b·aᵇ⁻¹·dy, aᵇ·log(a)·dy
  pow: (a, b, y, dy, n) => [
    n[0] ? mul(dy, mul(b, pow(a, typeof b === "number" ? b - 1 : sub(b, 1)))) : null,
    n[1] ? mul(dy, mul(y, typeof a === "number" ? Math.log(a) : log(a))) : null,
  ],
  // Ties split the gradient evenly, as torch does.
  maximum: (a, b, _y, dy) => [mul(dy, add(gt(a, b), mul(eq(a, b), 0.5))), mul(dy, add(lt(a, b), mul(eq(a, b), 0.5)))],
  minimum: (a, b, _y, dy) => [mul(dy, add(lt(a, b), mul(eq(a, b), 0.5))), mul(dy, add(gt(a, b), mul(eq(a, b), 0.5)))],
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
};

type BinaryFn = <A extends Operand, B extends Operand>(
  a: A,
  b: B,
  ...shapesMustBroadcast: CheckBroadcast<ShapeOf<A>, ShapeOf<B>>
) => Tensor<Broadcast<ShapeOf<A>, ShapeOf<B>>>;

/**
 * The cotangent of operand `x`: tensors are inputs as views broadcast to the result's shape, so a
 * full-shape cotangent is right here (the broadcast view's own VJP sums it back down).
 */
function cotangent(g: Operand | null, x: Operand, need: boolean): Tensor | null {
  if (g === null || typeof x === "number" || !need) return null;
  return typeof g === "number" ? null : g;
}

function binary(op: BinaryOp): BinaryFn {
  return ((aIn: Operand, bIn: Operand) => {
    const a = checkOperand(aIn, op);
    const b = checkOperand(bIn, op);
    const rule = binaryVjp[op];
    const tensorAt = [typeof a !== "number", typeof b !== "number"];
    const y: Tensor = elementwise(
      op,
      [a, b],
      ([ra, rb]) => ({ op, x: ra, y: rb }),
      rule &&
        ((dy, needs) => {
          // `needs` counts tensor operands only; spread it back over (a, b).
          const n = tensorAt[0] ? [needs[0], tensorAt[1] && needs[1]] : [false, needs[0]];
          const [da, db] = rule(a, b, y, dy, n);
          return [cotangent(da, a, n[0]), cotangent(db, b, n[1])].filter((_, i) => tensorAt[i]);
        }),
    );
    return y;
  }) as BinaryFn;
}

export const add = binary("add");
export const sub = binary("sub");
export const mul = binary("mul");
export const div = binary("div");
export const pow = binary("pow");
export const maximum = binary("maximum");
export const minimum = binary("minimum");
/** Comparisons give 1 where true and 0 where false, with no gradient. */
export const equal = binary("eq");
export const notEqual = binary("ne");
export const less = binary("lt");
export const lessEqual = binary("le");
export const greater = binary("gt");
export const greaterEqual = binary("ge");
const eq = equal;
const lt = less;
const gt = greater;

/** cond ? a : b elementwise, broadcasting all three; no gradient flows to cond. */
export function where(condIn: Operand, aIn: Operand, bIn: Operand): Tensor {
  const [cond, a, b] = [checkOperand(condIn, "where"), checkOperand(aIn, "where"), checkOperand(bIn, "where")];
  const operands = [cond, a, b];
  return elementwise(
    "where",
    operands,
    ([c, x, y]) => ({ op: "where", cond: c, x, y }),
    (dy, needs) => {
      // `needs` counts tensor operands only; spread it back over (cond, a, b).
      let k = 0;
      const n = operands.map((x) => typeof x !== "number" && needs[k++]);
      const taken = notEqual(cond, 0);
      const grads = [
        null,
        cotangent(n[1] ? mul(dy, taken) : null, a, n[1]),
        cotangent(n[2] ? mul(dy, sub(1, taken)) : null, b, n[2]),
      ];
      return grads.filter((_, i) => typeof operands[i] !== "number");
    },
  );
}

/** x² (a composite: mul(x, x)). */
export const square = <S extends Shape>(x: Tensor<S>): Tensor<S> => typed<S>(mul(x as Tensor, x as Tensor));
