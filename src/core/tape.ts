// What reverse mode records: each op whose inputs are being traced gives its output a Node that
// links back to those inputs and holds the op's VJP. The graph hangs off the tensors themselves,
// so nothing global grows: once a trace's output is dropped, its whole graph can be collected.
//
// Traces nest (grad of grad): a node belongs to every open trace that one of its inputs belongs
// to, so the ops a VJP runs while an outer trace is open are recorded by that outer trace and can
// be differentiated again. A trace's leaves stop its own backward walk but, for the traces around
// it, are the identity of the tensor they were made from — which keeps `d/dx [x · d/dy (x + y)]`
// apart from `d/dy` (no perturbation confusion: y's trace never sees x).

import type { Tensor } from "./tensor.ts";

/** Maps the cotangent of an op's output to the cotangents of its inputs (null: no gradient). */
export type VjpFn = (dy: Tensor) => readonly (Tensor | null)[];

export interface Node {
  /** The open traces that recorded this node (ids, ascending). */
  readonly traces: readonly number[];
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly vjp: VjpFn;
  /** Set on a trace's leaves: that trace's backward pass stops here. */
  readonly leafOf?: number;
}

const openTraces: number[] = [];
let nextTrace = 1;

/** Opens a new trace; ops on its leaves record until `endTrace`. */
export function beginTrace(): number {
  const id = nextTrace++;
  openTraces.push(id);
  return id;
}

export function endTrace(id: number): void {
  const i = openTraces.lastIndexOf(id);
  if (i >= 0) openTraces.splice(i, 1);
}

const isOpen = (trace: number) => openTraces.includes(trace);

/** The open traces recording through `t`. */
function tracesOf(t: Tensor): number[] {
  return t.node ? t.node.traces.filter(isOpen) : [];
}

/** Does any open trace record through this tensor? */
export function isTraced(t: Tensor): boolean {
  return t.node?.traces.some(isOpen) === true;
}

/** The node an op's output gets: undefined unless some input is traced by an open trace. */
export function recordNode(op: string, inputs: readonly Tensor[], vjp: VjpFn): Node | undefined {
  let traces: number[] | undefined;
  for (const x of inputs) {
    if (!x.node) continue;
    for (const t of x.node.traces) if (isOpen(t) && !traces?.includes(t)) (traces ??= []).push(t);
  }
  return traces ? { traces: traces.sort((a, b) => a - b), op, inputs, vjp } : undefined;
}

/** A leaf of `trace` standing for `x` (and, for the traces around it, the identity of x). */
export function leafNode(x: Tensor, trace: number): Node {
  const traces = [...tracesOf(x), trace].sort((a, b) => a - b);
  return { traces, op: "leaf", inputs: [x], vjp: (dy) => [dy], leafOf: trace };
}

/** Whether the node still matters to some open trace (outputs of a finished trace are cut loose). */
export function isLive(node: Node): boolean {
  return node.traces.some(isOpen);
}
