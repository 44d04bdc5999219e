// Pytrees: nested records and arrays whose leaves are tensors (other leaves ride along unchanged).

import { Tensor } from "../core/tensor.ts";

/**
 * A pytree: tensors in nested arrays and records. `object` admits records declared as interfaces
 * (which TS does not treat as index signatures); non-tensor leaves are carried along unchanged.
 */
export type Tree =
  | Tensor
  | readonly Tree[]
  | { readonly [key: string]: Tree }
  | object
  | number
  | string
  | boolean
  | null
  | undefined;

/** The tensor leaves of a tree in a fixed order (arrays by index, records by insertion order). */
export function leaves(tree: Tree): Tensor[] {
  const out: Tensor[] = [];
  const walk = (t: Tree): void => {
    if (t instanceof Tensor) out.push(t);
    else if (Array.isArray(t)) t.forEach(walk);
    else if (t !== null && typeof t === "object") Object.values(t).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The same structure with every tensor leaf replaced by f(leaf). */
export function treeMap<T extends Tree>(f: (leaf: Tensor, path: string) => Tensor, tree: T, path = ""): T {
  if (tree instanceof Tensor) return f(tree, path) as T;
  if (Array.isArray(tree)) return tree.map((t, i) => treeMap(f, t, `${path}[${i}]`)) as unknown as T;
  if (tree !== null && typeof tree === "object") {
    const out: Record<string, Tree> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = treeMap(f, v, path ? `${path}.${k}` : k);
    return out as T;
  }
  return tree;
}

/** Rebuilds a tree's structure from a list of leaves in `leaves` order. */
export function unflatten<T extends Tree>(structure: T, values: readonly Tensor[]): T {
  let i = 0;
  return treeMap(() => values[i++], structure);
}

/** Pairs up the tensor leaves of two trees of the same structure. */
export function treeZip<T extends Tree>(f: (a: Tensor, b: Tensor, path: string) => Tensor, a: T, b: T): T {
  const bs = leaves(b);
  let i = 0;
  return treeMap((x, path) => {
    const y = bs[i++];
    if (y === undefined) throw new TypeError(`treeZip: the second tree has no leaf at ${path || "(root)"}`);
    return f(x, y, path);
  }, a);
}
