// How a primitive emits its output: fresh storage or a view of its input, plus (when an input is
// traced) the node that lets reverse mode call its VJP.

import type { Storage } from "../backend.ts";
import type { Shape } from "../shape.ts";
import { recordNode } from "../tape.ts";
import { fromStorage, Tensor, checkTensor, scalar } from "../tensor.ts";

/**
 * A VJP rule: the input cotangents for an output cotangent `dy`. `needs[i]` says whether input i
 * is traced; rules may return null for the others and skip their work.
 */
export type Vjp = (dy: Tensor, needs: readonly boolean[]) => readonly (Tensor | null)[];

/** An op's output in new contiguous storage. */
export function emit<S extends Shape>(
  op: string,
  storage: Storage,
  shape: S,
  inputs: readonly Tensor[],
  vjp: Vjp,
): Tensor<S> {
  return fromStorage(storage, shape, node(op, inputs, vjp));
}

/** An op's output as a view of `src`'s storage (reshape, permute, slice, broadcast): no copy. */
export function emitView<S extends Shape>(
  op: string,
  src: Tensor,
  shape: S,
  strides: readonly number[],
  offset: number,
  vjp: Vjp,
): Tensor<S> {
  return new Tensor(src.buffer, shape, strides, offset, node(op, [src], vjp));
}

function node(op: string, inputs: readonly Tensor[], vjp: Vjp) {
  return recordNode(op, inputs, (dy) =>
    vjp(
      dy,
      inputs.map((x) => x.node !== undefined),
    ),
  );
}

/** A tensor or a plain number (a 0-d tensor) as an op operand. */
export type Operand = Tensor | number;
export type ShapeOf<T> = T extends Tensor<infer S> ? S : [];

export function asTensor(x: Operand, op: string): Tensor {
  if (typeof x === "number") return scalar(x);
  return checkTensor(x, op);
}
