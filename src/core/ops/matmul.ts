// Batched matrix multiply with broadcast leading dims: the one primitive where the FLOPs are.

import { broadcastShapes, fmt, ShapeError, type CheckMatmul, type MatmulShape, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { broadcastTo, reshape, transpose } from "./movement.ts";
import { checkTensor } from "../tensor.ts";
import { emit } from "./primitive.ts";

/** [..., m, k] @ [..., k, n] → [..., m, n]; leading dims broadcast (numpy matmul, rank ≥ 2). */
export function matmul<A extends Shape, B extends Shape>(
  a: Tensor<A>,
  b: Tensor<B>,
  ..._inner: CheckMatmul<A, B>
): Tensor<MatmulShape<A, B>> {
  checkTensor(a, "matmul");
  checkTensor(b, "matmul");
  const [ra, rb] = [a.shape.length, b.shape.length];
  if (ra < 2 || rb < 2) {
    throw new ShapeError(`matmul: both operands need rank >= 2, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const [m, k] = [a.shape[ra - 2], a.shape[ra - 1]];
  const [k2, n] = [b.shape[rb - 2], b.shape[rb - 1]];
  if (k !== k2) throw new ShapeError(`matmul: inner dims differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${k} vs ${k2})`);
  let batch: number[];
  try {
    batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`matmul: batch dims of ${fmt(a.shape)} and ${fmt(b.shape)} do not broadcast`);
  }
  // A batch of rows times one matrix is one tall matmul: [..., m, k] → [(…·m), k] @ [k, n]. One big
  // GEMM is faster than many small ones, and the weight gradient needs no sum over the batch.
  if (rb === 2 && ra > 2 && k > 0) {
    const rowsOf = reshape(a, [-1, k]);
    return reshape(matmul(rowsOf, b as Tensor), [...a.shape.slice(0, -1), n]) as Tensor<MatmulShape<A, B>>;
  }
  const av = broadcastTo(a, [...batch, m, k]);
  const bv = broadcastTo(b, [...batch, k, n]);
  // d(a@b) = dy@bᵀ for a, aᵀ@dy for b (summed over broadcast batch dims by broadcastTo's VJP)
  return emit({
    op: "matmul",
    inputs: [av, bv],
    shape: [...batch, m, n],
    launch: (be, [x, y], [out]) => be.matmul(x, y, out),
    vjp: (dy, needs) => [needs[0] ? matmul(dy, transpose(bv)) : null, needs[1] ? matmul(transpose(av), dy) : null],
  }) as Tensor<MatmulShape<A, B>>;
}
