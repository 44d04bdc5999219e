// Tensors a training loop is about to write to files, brought to host memory first: writers read
// synchronously, and a GPU backend reads only with await. Trees on a backend that reads
// synchronously (the CPU ones) come back as they are.

import * as T from "../core/index.ts";
import { leaves, unflatten, type Tree } from "../autodiff/pytree.ts";

/** `tree` with every tensor leaf readable synchronously (copied to the reference backend where needed). */
export async function onHost<Tr extends Tree>(tree: Tr): Promise<Tr> {
  const ls = leaves(tree);
  if (ls.every((t) => t.backend.canReadSync)) return tree;
  const moved = await Promise.all(ls.map((t) => (t.backend.canReadSync ? t : T.toBackend(t, "reference"))));
  return unflatten(tree, moved);
}
