// Elementwise primitives (unary maps, broadcasting binary ops, where), each with its VJP beside it.

import { backend, type BinaryOp, type UnaryOp } from "../backend.ts";
import { broadcastShapes, type Broadcast, type CheckBroadcast, type Shape } from "../shape.ts";
import { typed, type Tensor } from "../tensor.ts";
import { broadcastTo, unbroadcast } from "./movement.ts";
import { asTensor, emit, type Operand, type ShapeOf } from "./primitive.ts";

// ---- Unary primitives: y = f(x), and dx from (x, y, dy) ----

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

const unaryVjp: { [P in UnaryOp]: ((x: Tensor, y: Tensor, dy: Tensor) => Tensor) | null } = {
  neg: (_x, _y, dy) => neg(dy), //                       d(-x) = -dy
  exp: (_x, y, dy) => mul(dy, y), //                     d(exp x) = exp(x)·dy
  log: (x, _y, dy) => div(dy, x), //                     d(log x) = dy/x
  sqrt: (_x, y, dy) => div(dy, mul(y, 2)), //            d(√x) = dy/(2√x)
  rsqrt: (_x, y, dy) => mul(dy, mul(pow(y, 3), -0.5)), // d(x^-½) = -½·x^-3/2·dy
  abs: (x, _y, dy) => mul(dy, sign(x)), //               d|x| = sign(x)·dy
  tanh: (_x, y, dy) => mul(dy, sub(1, mul(y, y))), //    d(tanh x) = (1 - tanh²x)·dy
  erf: (x, _y, dy) => mul(dy, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI)), // d(erf x) = 2/√π·e^(-x²)·dy
  sigmoid: (_x, y, dy) => mul(dy, mul(y, sub(1, y))), // dσ = σ(1-σ)·dy
  relu: (x, _y, dy) => mul(dy, gt(x, 0)), //             d(relu x) = [x > 0]·dy
  sin: (x, _y, dy) => mul(dy, cos(x)),
  cos: (x, _y, dy) => mul(dy, neg(sin(x))),
  sign: null, // piecewise constant: zero gradient
  floor: null,
};

function unary(op: UnaryOp) {
  return <S extends Shape>(x: Tensor<S>): Tensor<S> => {
    asTensor(x, op);
    const rule = unaryVjp[op];
    const y: Tensor<S> = emit(op, backend().unary(op, x), x.shape, [x], (dy) => [rule ? rule(x, y, dy) : null]);
    return y;
  };
}

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

// ---- Binary primitives with numpy broadcasting ----
// Every gradient goes back through `unbroadcast`, which sums dy over the broadcast dims.

type BinaryRule = (
  a: Tensor,
  b: Tensor,
  y: Tensor,
  dy: Tensor,
  needs: readonly boolean[],
) => [Tensor | null, Tensor | null];

const binaryVjp: { [P in BinaryOp]: BinaryRule | null } = {
  add: (_a, _b, _y, dy) => [dy, dy],
  sub: (_a, _b, _y, dy, n) => [dy, n[1] ? neg(dy) : null],
  mul: (a, b, _y, dy, n) => [n[0] ? mul(dy, b) : null, n[1] ? mul(dy, a) : null],
  // d(a/b) = dy/b, -dy·a/b²
  div: (_a, b, y, dy, n) => [n[0] ? div(dy, b) : null, n[1] ? neg(div(mul(dy, y), b)) : null],
  // d(aᵇ) = b·aᵇ⁻¹·dy, aᵇ·log(a)·dy
  pow: (a, b, y, dy, n) => [n[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null, n[1] ? mul(dy, mul(y, log(a))) : null],
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

function binary(op: BinaryOp): BinaryFn {
  return ((aIn: Operand, bIn: Operand) => {
    const a = asTensor(aIn, op);
    const b = asTensor(bIn, op);
    const shape = broadcastShapes(op, a.shape, b.shape);
    const rule = binaryVjp[op];
    const y: Tensor = emit(
      op,
      backend().binary(op, broadcastTo(a, shape), broadcastTo(b, shape)),
      shape,
      [a, b],
      (dy, needs) => {
        if (!rule) return [null, null];
        const [da, db] = rule(a, b, y, dy, needs);
        return [da && needs[0] ? unbroadcast(da, a.shape) : null, db && needs[1] ? unbroadcast(db, b.shape) : null];
      },
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
  const [cond, a, b] = [asTensor(condIn, "where"), asTensor(aIn, "where"), asTensor(bIn, "where")];
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, a.shape), b.shape);
  const out = backend().where(broadcastTo(cond, shape), broadcastTo(a, shape), broadcastTo(b, shape));
  return emit("where", out, shape, [cond, a, b], (dy, needs) => {
    const taken = notEqual(cond, 0);
    return [
      null,
      needs[1] ? unbroadcast(mul(dy, taken), a.shape) : null,
      needs[2] ? unbroadcast(mul(dy, sub(1, taken)), b.shape) : null,
    ];
  });
}

/** x² (a composite: mul(x, x)). */
export const square = <S extends Shape>(x: Tensor<S>): Tensor<S> => typed<S>(mul(x as Tensor, x as Tensor));
