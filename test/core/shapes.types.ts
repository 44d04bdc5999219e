// Compile-time checks of the shape algebra in src/core/shape.ts (checked by `tsc --noEmit`, never run):
// literal shapes flow through ops, and wrong shapes or ranks do not compile.

import * as T from "../../src/core/index.ts";

type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const expectType = <X extends true>(): X | undefined => undefined;

declare const a23: T.Tensor<[2, 3]>;
declare const b35: T.Tensor<[3, 5]>;
declare const c45: T.Tensor<[4, 5]>;
declare const v3: T.Tensor<[3]>;
declare const v4: T.Tensor<[4]>;
declare const batch: T.Tensor<[8, 2, 3]>;
declare const bcast: T.Tensor<[1, 3, 5]>;
declare const erased: T.Tensor;
declare const dyn: T.Tensor<[number, 3]>;

// ---- Inferred result types ----
const c: T.Tensor<[2, 5]> = T.matmul(a23, b35);
expectType<Equals<typeof c.shape, [2, 5]>>();
expectType<Equals<ReturnType<typeof T.matmul<[8, 2, 3], [1, 3, 5]>>, T.Tensor<[8, 2, 5]>>>();
const batched: T.Tensor<[8, 2, 5]> = T.matmul(batch, bcast); // batch dims broadcast
const batchedRight: T.Tensor<[8, 2, 5]> = T.matmul(batch, b35); // a missing batch dim broadcasts too
const dynamic: T.Tensor<[number, 5]> = T.matmul(dyn, b35); // a run-time dim stays `number`
const sum23: T.Tensor<[2, 3]> = T.add(a23, v3); // [2, 3] + [3] broadcasts
const col: T.Tensor<[2, 3]> = T.mul(T.zeros([2, 1]), T.ones([1, 3])); // [2, 1] · [1, 3]
const withScalar: T.Tensor<[2, 3]> = T.sub(a23, 1); // a number is a 0-d tensor
const scalarLeft: T.Tensor<[3]> = T.div(1, v3);
const created: T.Tensor<[2, 3]> = T.zeros([2, 3]); // literal shapes without `as const`
const randomShape: T.Tensor<[4, 4]> = T.random.normal(T.key(0), [4, 4]);
const sameShape: T.Tensor<[2, 3]> = T.softmax(T.exp(T.gelu(a23)));
const reshaped: T.Tensor<[3, 2]> = T.reshape(a23, [3, 2]);
const reshapedFree: T.Tensor<[number, 2]> = T.reshape(a23, [-1, 2]); // -1 becomes `number`
const broadcast: T.Tensor<[4, 2, 3]> = T.broadcastTo(a23, [4, 2, 3]);
const identity: T.Tensor<[3, 3]> = T.eye(3);
const erasedOut: T.Tensor = T.matmul(erased, erased); // erased shapes are checked at run time only
const erasedAdd = T.add(erased, a23);
// Ops on erased shapes give the erased `T.Tensor` back (not a mutable `Tensor<number[]>`), so the two mix.
expectType<Equals<typeof erasedAdd, T.Tensor>>();
expectType<Equals<ReturnType<typeof T.add<T.Tensor, T.Tensor>>, T.Tensor>>();
expectType<Equals<ReturnType<typeof T.matmul<T.Shape, T.Shape>>, T.Tensor>>();
void [
  c,
  batched,
  batchedRight,
  dynamic,
  sum23,
  col,
  withScalar,
  scalarLeft,
  created,
  randomShape,
  sameShape,
  reshaped,
  reshapedFree,
  broadcast,
  identity,
  erasedOut,
  erasedAdd,
];

// ---- Wrong shapes and ranks do not compile ----
// @ts-expect-error inner dims 3 and 4 differ
T.matmul(a23, c45);
// @ts-expect-error inner dims differ (the other way round)
T.matmul(b35, a23);
// @ts-expect-error matmul needs rank >= 2 (a literal rank-1 tensor)
T.matmul(v3, b35);
// @ts-expect-error rank-1 right operand
T.matmul(a23, v3);
// @ts-expect-error batch dims 8 and 2 do not broadcast
T.matmul(batch, T.zeros([2, 3, 5]));
// @ts-expect-error [2, 3] and [4] do not broadcast
T.add(a23, v4);
// @ts-expect-error [4] and [2, 3] do not broadcast (left to right)
T.mul(v4, a23);
// @ts-expect-error [2, 3] and [4, 5] do not broadcast
T.maximum(a23, c45);
// @ts-expect-error a [2, 5] result is not a [5, 2]
const wrongResult: T.Tensor<[5, 2]> = T.matmul(a23, b35);
// @ts-expect-error a [2, 3] tensor is not a [3, 2] one
const wrongAssign: T.Tensor<[3, 2]> = a23;
// @ts-expect-error add keeps the broadcast shape [2, 3], not [3]
const wrongAdd: T.Tensor<[3]> = T.add(a23, v3);
void [wrongResult, wrongAssign, wrongAdd];
