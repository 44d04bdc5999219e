// stopGradient: the identity whose VJP is zero (a view with no node, so nothing records through it).

import { Tensor } from "../tensor.ts";

/** The same values, cut off from reverse mode. */
export function stopGradient<T extends Tensor>(x: T): T {
  if (x.node === undefined) return x;
  return new Tensor(x.storage, x.shape, x.strides, x.offset) as T;
}
