// Reductions: sum and max/min are primitives; mean and var are compositions of them.

import type { ReduceOp } from "../backend.ts";
import { normalizeAxes, ShapeError, fmt, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { div, equal, mul, sub } from "./elementwise.ts";
import { broadcastTo, reshape } from "./movement.ts";
import type { Launch } from "../recorder.ts";
import { emit } from "./primitive.ts";

export interface ReduceOptions {
  /** Keep the reduced axes as size 1 (so the result broadcasts against the input). */
  keepdims?: boolean;
}
type Axes = number | readonly number[] | undefined;

function reduced(op: ReduceOp, x: Tensor, axes: Axes, keepdims: boolean) {
  const ax = normalizeAxes(op, axes, x.shape.length);
  if (op !== "sum" && ax.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(`${op}: cannot reduce over an empty axis of ${fmt(x.shape)}`);
  }
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  const launch: Launch = (be, [v], [out]) => be.reduce(op, v, ax, out);
  return { ax, kept, shape, launch };
}

/** Σ over the axes (all when omitted). */
export function sum(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const { kept, shape, launch } = reduced("sum", x, axes, opts.keepdims ?? false);
  // d(Σx) = dy broadcast back over the reduced axes
  return emit({ op: "sum", inputs: [x], shape, launch, vjp: (dy) => [broadcastTo(reshape(dy, kept), x.shape)] });
}

/** max over the axes; ties share the gradient equally. */
export const max = (x: Tensor, axes?: Axes, opts: ReduceOptions = {}) => extremum("max", x, axes, opts);
/** min over the axes; ties share the gradient equally. */
export const min = (x: Tensor, axes?: Axes, opts: ReduceOptions = {}) => extremum("min", x, axes, opts);

function extremum(op: "max" | "min", x: Tensor, axes: Axes, opts: ReduceOptions): Tensor {
  const { ax, kept, shape, launch } = reduced(op, x, axes, opts.keepdims ?? false);
  const y: Tensor = emit({
    op,
    inputs: [x],
    shape,
    launch,
    vjp: (dy) => {
      // d(max x) = dy·[x = max] / #ties
      const hit = equal(x, reshape(y, kept));
      const ties = sum(hit, ax, { keepdims: true });
      return [mul(div(hit, ties), reshape(dy, kept))];
    },
  });
  return y;
}

/** Arithmetic mean over the axes. */
export function mean(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const count = countOver(x.shape, axes, "mean");
  return div(sum(x, axes, opts), count);
}

export interface VarOptions extends ReduceOptions {
  /** Divide by n - 1 (Bessel) instead of n. */
  unbiased?: boolean;
}

/** Variance over the axes (biased by default, as LayerNorm uses it). */
export function variance(x: Tensor, axes?: Axes, opts: VarOptions = {}): Tensor {
  const n = countOver(x.shape, axes, "variance");
  const centered = sub(x, mean(x, axes, { keepdims: true }));
  return div(sum(mul(centered, centered), axes, opts), opts.unbiased ? n - 1 : n);
}
export { variance as var_ };

function countOver(shape: Shape, axes: Axes, op: string): number {
  return normalizeAxes(op, axes, shape.length).reduce((n, a) => n * shape[a], 1);
}
