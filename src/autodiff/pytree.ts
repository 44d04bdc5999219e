// Pytrees: nested records, arrays and Maps whose leaves are tensors (other leaves ride along
// unchanged: numbers, strings, PRNG keys, class instances).

import { Key } from "../core/prng.ts";
import { Tensor } from "../core/tensor.ts";

/**
 * A pytree: tensors in nested arrays, records and Maps. `object` admits records declared as
 * interfaces (which TS does not treat as index signatures); non-tensor leaves are carried along.
 */
export type Tree =
  | Tensor
  | readonly Tree[]
  | { readonly [key: string]: Tree }
  | ReadonlyMap<unknown, Tree>
  | object
  | number
  | string
  | boolean
  | null
  | undefined;

/** Containers a tree descends into: arrays, Maps and plain records (not keys or other class instances). */
export const isRecord = (t: unknown): t is Record<string, unknown> => {
  if (t === null || typeof t !== "object" || t instanceof Key) return false;
  const proto = Object.getPrototypeOf(t);
  return proto === Object.prototype || proto === null;
};

/** The tensor leaves of a tree in a fixed order (arrays by index, records and Maps by insertion order). */
export function leaves(tree: Tree): Tensor[] {
  const out: Tensor[] = [];
  const walk = (t: unknown): void => {
    if (t instanceof Tensor) out.push(t);
    else if (Array.isArray(t)) t.forEach(walk);
    else if (t instanceof Map) t.forEach((v) => walk(v));
    else if (isRecord(t)) Object.values(t).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The same structure with every tensor leaf replaced by f(leaf). */
export function treeMap<T extends Tree>(f: (leaf: Tensor, path: string) => Tensor, tree: T, path = ""): T {
  if (tree instanceof Tensor) return f(tree, path) as T;
  if (Array.isArray(tree)) return tree.map((t, i) => treeMap(f, t, `${path}[${i}]`)) as unknown as T;
  if (tree instanceof Map) {
    return new Map(
      [...(tree as Map<unknown, Tree>)].map(([k, v]) => [k, treeMap(f, v, `${path}[${String(k)}]`)]),
    ) as unknown as T;
  }
  if (isRecord(tree)) {
    const out: Record<string, Tree> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = treeMap(f, v as Tree, path ? `${path}.${k}` : k);
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
