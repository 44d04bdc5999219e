// Reverse mode as function transforms: vjp, grad, valueAndGrad over pytrees — and, because they
// compose, forward mode (jvp) and Hessian-vector products (hvp) built from them.
//
// A transform opens a trace, replaces the chosen arguments by the trace's leaves, and runs f:
// every op on a traced tensor records a node (src/core/tape.ts). The backward pass walks those
// nodes in reverse topological order and only ever adds into gradients. It runs in ops, so when an
// outer transform is tracing, the backward pass is recorded too and can be differentiated again.
// Tensors captured by closure are constants. Results are cut loose from every finished trace, so
// nothing outlives a step.

import { add } from "../core/ops/elementwise.ts";
import { mul } from "../core/ops/elementwise.ts";
import { sum } from "../core/ops/reduce.ts";
import { zeros, ones } from "../core/creation.ts";
import { fmt, ShapeError } from "../core/shape.ts";
import { beginTrace, endTrace, isLive, leafNode, type Node } from "../core/tape.ts";
import { Tensor, typed } from "../core/tensor.ts";
import { leaves, treeMap, treeZip, unflatten, type Tree } from "./pytree.ts";

/** Runs f on traced copies of the primals. Returns f's output and its pullback. */
export function vjp<Args extends Tree[], Out extends Tree>(
  f: (...args: Args) => Out,
  ...primals: Args
): [Out, (cotangent: Out) => Args] {
  const trace = beginTrace();
  let tracedLeaves: Tensor[];
  let out: Out;
  try {
    const traced = primals.map((p) => treeMap((x) => leafOf(x, trace), p)) as Args;
    tracedLeaves = leaves(traced);
    out = f(...traced);
  } finally {
    endTrace(trace);
  }
  const outLeaves = leaves(out);
  const pullback = (cotangent: Out): Args => {
    const cts = leaves(cotangent);
    if (cts.length !== outLeaves.length)
      throw new TypeError(`vjp: cotangent has ${cts.length} tensors, the output has ${outLeaves.length}`);
    cts.forEach((c, i) => {
      if (fmt(c.shape) !== fmt(outLeaves[i].shape))
        throw new ShapeError(`vjp: cotangent ${i} has shape ${fmt(c.shape)}, the output ${fmt(outLeaves[i].shape)}`);
    });
    const grads = backward(trace, outLeaves, cts, tracedLeaves);
    return unflatten(primals as unknown as Tree, grads.map(cutLoose)) as unknown as Args;
  };
  return [treeMap(cutLoose, out), pullback];
}

export interface GradOptions {
  /** Which arguments to differentiate: one index (default 0) or several. */
  argnums?: number | readonly number[];
  /** f returns [scalar, aux]: aux is passed through, not differentiated. */
  hasAux?: boolean;
}

/**
 * (...args) => [f(...args), grads] for a scalar-valued f, where grads mirrors argument `argnums`
 * (or is a tuple of trees when argnums is a list). With hasAux: [value, grads, aux].
 */
export function valueAndGrad<Args extends Tree[]>(f: (...args: Args) => Tree, opts: GradOptions = {}) {
  const argnums = opts.argnums ?? 0;
  const wanted = typeof argnums === "number" ? [argnums] : [...argnums];
  // biome-ignore lint/suspicious/noExplicitAny: the gradient trees mirror the arguments' own types, unindexable by a run-time argnum
  return (...args: Args): [Tensor, any, any] => {
    for (const i of wanted) {
      if (!Number.isInteger(i) || i < 0 || i >= args.length)
        throw new RangeError(`valueAndGrad: argnum ${i} out of range for ${args.length} arguments`);
    }
    const trace = beginTrace();
    let result: Tree;
    let tracedArgs: Tree[];
    try {
      tracedArgs = args.map((a, i) => (wanted.includes(i) ? treeMap((x) => leafOf(x, trace), a) : a));
      result = f(...(tracedArgs as Args));
    } finally {
      endTrace(trace);
    }
    const [value, aux] = opts.hasAux ? (result as [Tree, Tree]) : [result, undefined];
    if (!(value instanceof Tensor) || value.size !== 1) {
      const what = value instanceof Tensor ? `a tensor of shape ${fmt(value.shape)}` : typeof value;
      throw new TypeError(
        `grad: f must return a scalar tensor (one element)${opts.hasAux ? " as the first of [value, aux]" : ""}, got ${what}`,
      );
    }
    const perArgLeaves = wanted.map((i) => leaves(tracedArgs[i]));
    const seed = ones(value.shape, { dtype: value.dtype, backend: value.backend.name });
    const all = backward(trace, [value], [seed], perArgLeaves.flat()).map(cutLoose);
    let at = 0;
    const perArg = wanted.map((i, w) => unflatten(args[i], all.slice(at, (at += perArgLeaves[w].length))));
    const grads = typeof argnums === "number" ? perArg[0] : perArg;
    const plainAux = aux === undefined ? undefined : treeMap(cutLoose, aux);
    return [cutLoose(value), grads, plainAux];
  };
}

/** The gradient of a scalar-valued f with respect to its argnums (default: the first argument). */
export function grad<Args extends Tree[]>(f: (...args: Args) => Tree, opts: GradOptions = {}) {
  const vg = valueAndGrad(f, opts);
  // biome-ignore lint/suspicious/noExplicitAny: the gradient tree mirrors the argument's type
  return (...args: Args): any => {
    const [, grads, aux] = vg(...args);
    return opts.hasAux ? [grads, aux] : grads;
  };
}

/**
 * Forward mode: f(primals) and the directional derivative J·tangents. Built from reverse mode by
 * transposing the pullback (it is linear in the cotangent u, so the VJP of u ↦ Jᵀu is J).
 */
export function jvp<Args extends Tree[], Out extends Tree>(
  f: (...args: Args) => Out,
  primals: Args,
  tangents: Args,
): [Out, Out] {
  const [out, pullback] = vjp(f, ...primals);
  const u0 = treeMap((o) => zeros(o.shape, { dtype: o.dtype, backend: o.backend.name }), out);
  const [, transposed] = vjp((u: Out) => pullback(u) as Tree, u0);
  const [tangentOut] = transposed(tangents as unknown as Tree) as unknown as [Out];
  return [out, tangentOut];
}

/** The Hessian of a scalar-valued f at x, times v (x and v pytrees of one structure). */
export function hvp<X extends Tree>(f: (x: X) => Tensor, x: X, v: X): X {
  // H·v = ∇ₓ ⟨∇f(x), v⟩ (reverse over reverse).
  const directional = (y: X) => {
    const g = grad(f)(y) as X;
    return leaves(treeZip((gi, vi) => sum(mul(gi, vi)), g, v)).reduce((a, b) => add(a, b));
  };
  return grad(directional)(x) as X;
}

/** A traced leaf: the primal's values, marked as an input of this trace. */
function leafOf(x: Tensor, trace: number): Tensor {
  return new Tensor(x.storage, x.shape, x.strides, x.offset, leafNode(x, trace));
}

/** The tensor without its node when no open trace needs the node (so finished graphs can be freed). */
function cutLoose(t: Tensor): Tensor {
  if (t.node === undefined || isLive(t.node)) return t;
  return new Tensor(t.storage, t.shape, t.strides, t.offset);
}

/** Reverse accumulation from the outputs' cotangents to the leaves; zeros for unreachable leaves. */
function backward(
  trace: number,
  outputs: readonly Tensor[],
  cotangents: readonly Tensor[],
  leafTensors: readonly Tensor[],
): Tensor[] {
  const order = topologicalOrder(trace, outputs);
  const grads = new Map<Node, Tensor>();
  const accumulate = (n: Node, g: Tensor) => {
    const prev = grads.get(n);
    grads.set(n, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, i) => o.node?.traces.includes(trace) && accumulate(o.node, cotangents[i]));
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    if (n.leafOf === trace) continue; // the leaves keep their gradients
    const g = grads.get(n);
    if (!g) continue;
    grads.delete(n); // free intermediate cotangents as soon as they are used
    const inputGrads = n.vjp(g);
    n.inputs.forEach((x, j) => {
      const gj = inputGrads[j];
      if (gj && x.node?.traces.includes(trace)) accumulate(x.node, gj);
    });
  }
  return leafTensors.map((l) => {
    const g = grads.get(l.node!);
    return g ? typed(g) : zeros(l.shape, { dtype: l.dtype, backend: l.backend.name });
  });
}

/** Nodes of one trace reachable from the outputs, each after all of its inputs (iterative DFS). */
function topologicalOrder(trace: number, outputs: readonly Tensor[]): Node[] {
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: [Node, number][] = [];
  for (const o of outputs) {
    if (!o.node?.traces.includes(trace) || visited.has(o.node)) continue;
    visited.add(o.node);
    stack.push([o.node, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      // A leaf of this trace is where its walk ends.
      if (i < n.inputs.length && n.leafOf !== trace) {
        top[1]++;
        const child = n.inputs[i].node;
        if (child?.traces.includes(trace) && !visited.has(child)) {
          visited.add(child);
          stack.push([child, 0]);
        }
      } else {
        stack.pop();
        order.push(n);
      }
    }
  }
  return order;
}
