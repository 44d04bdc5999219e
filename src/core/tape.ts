// What reverse mode records: each op whose inputs are being traced gives its output a Node that
// links back to those inputs and holds the op's VJP. The graph hangs off the tensors themselves,
// so nothing global grows: once a trace's output is dropped, its whole graph can be collected.

import type { Tensor } from "./tensor.ts";

/** Maps the cotangent of an op's output to the cotangents of its inputs (null: no gradient). */
export type VjpFn = (dy: Tensor) => readonly (Tensor | null)[];

export interface Node {
  readonly trace: number;
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Absent on a trace's leaves (the primals being differentiated). */
  readonly vjp?: VjpFn;
}

const activeTraces: number[] = [];
let nextTrace = 1;

/** Opens a new trace; ops on its leaves record until `endTrace`. */
export function beginTrace(): number {
  const id = nextTrace++;
  activeTraces.push(id);
  return id;
}

export function endTrace(id: number): void {
  const i = activeTraces.lastIndexOf(id);
  if (i >= 0) activeTraces.splice(i, 1);
}

/** Is this tensor part of a trace that is still recording? */
export function isTraced(t: Tensor): boolean {
  return t.node !== undefined && activeTraces.includes(t.node.trace);
}

/** The node an op's output gets: undefined unless some input is traced. */
export function recordNode(op: string, inputs: readonly Tensor[], vjp: VjpFn): Node | undefined {
  let trace = 0;
  for (const x of inputs) if (isTraced(x)) trace = Math.max(trace, x.node!.trace);
  return trace === 0 ? undefined : { trace, op, inputs, vjp };
}
