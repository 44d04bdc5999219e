// Elementwise fusion: a chain of elementwise equations becomes one program, so intermediate
// values never touch memory. A producer is merged into its consumer when the consumer is the only
// reader of everything the producer writes, reads it element for element (same shape, contiguous),
// and both run on one backend; the merged program inlines the producer's code.

import type { Instruction, Program, View } from "../core/backend.ts";
import { isContiguous } from "../core/shape.ts";
import type { Equation } from "../core/recorder.ts";
import { TracedStorage } from "../core/recorder.ts";

/** Limits that keep a fused kernel's register file and input list small. */
const MAX_INSTRUCTIONS = 96;
const MAX_INPUTS = 12;

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
const sameView = (a: View, b: View) =>
  a.storage === b.storage && a.offset === b.offset && sameShape(a.shape, b.shape) && sameShape(a.strides, b.strides);
const isElementwise = (eq: Equation) => eq.program !== undefined;
const idOf = (v: View) => (v.storage instanceof TracedStorage ? v.storage.id : undefined);

/** An elementwise equation running `program` over `shape`. */
export function elementwiseEquation(
  op: string,
  program: Program,
  inputs: readonly View[],
  outputs: readonly View[],
): Equation {
  const shape = outputs[0].shape;
  return { op, program, inputs, outputs, launch: (be, ins, outs) => be.elementwise(program, ins, shape, outs) };
}

/** `producer` inlined into `consumer` (which reads every output of the producer). */
function merge(producer: Equation, consumer: Equation): Equation {
  const inputs: View[] = [];
  const inputIndex = (v: View) => {
    const at = inputs.findIndex((u) => sameView(u, v));
    if (at >= 0) return at;
    inputs.push(v);
    return inputs.length - 1;
  };
  const code: Instruction[] = [];
  const emitCode = (
    program: Program,
    views: readonly View[],
    substitute: (v: View) => number | undefined,
  ): number[] => {
    const regs: number[] = [];
    for (const ins of program.code) {
      if (ins.op === "input") {
        const sub = substitute(views[ins.index]);
        if (sub !== undefined) {
          regs.push(sub);
          continue;
        }
        code.push({ op: "input", index: inputIndex(views[ins.index]) });
      } else if (ins.op === "const") code.push(ins);
      else if (ins.op === "where") code.push({ op: "where", cond: regs[ins.cond], x: regs[ins.x], y: regs[ins.y] });
      else if ("y" in ins) code.push({ op: ins.op, x: regs[ins.x], y: regs[ins.y] });
      else code.push({ op: ins.op, x: regs[ins.x] });
      regs.push(code.length - 1);
    }
    return regs;
  };
  const p = producer.program!;
  const pRegs = emitCode(p, producer.inputs, () => undefined);
  const produced = new Map(producer.outputs.map((o, j) => [(o.storage as TracedStorage).id, pRegs[p.outputs[j]]]));
  const c = consumer.program!;
  const cRegs = emitCode(c, consumer.inputs, (v) => {
    const id = idOf(v);
    return id === undefined ? undefined : produced.get(id);
  });
  const program: Program = { code, outputs: c.outputs.map((r) => cRegs[r]) };
  return elementwiseEquation(`${producer.op}+${consumer.op}`, program, inputs, consumer.outputs);
}

/**
 * Fuses elementwise chains in `equations` (in place of the consumers); `keep` holds the values that
 * must stay materialised (the function's outputs).
 */
export function fuseElementwise(equations: readonly Equation[], keep: ReadonlySet<number>): Equation[] {
  const eqs: (Equation | null)[] = [...equations];
  const producerOf = new Map<number, number>();
  const readersOf = new Map<number, Set<number>>();
  const index = (i: number) => {
    const eq = eqs[i]!;
    for (const o of eq.outputs) producerOf.set((o.storage as TracedStorage).id, i);
    for (const v of eq.inputs) {
      const id = idOf(v);
      if (id === undefined) continue;
      if (!readersOf.has(id)) readersOf.set(id, new Set());
      readersOf.get(id)!.add(i);
    }
  };
  eqs.forEach((_, i) => index(i));

  const fusable = (pi: number, ci: number): boolean => {
    const [p, c] = [eqs[pi]!, eqs[ci]!];
    if (!isElementwise(p) || !isElementwise(c) || pi === ci) return false;
    if (p.outputs[0].storage.backend !== c.outputs[0].storage.backend) return false;
    if (!sameShape(p.outputs[0].shape, c.outputs[0].shape)) return false;
    if (p.program!.code.length + c.program!.code.length > MAX_INSTRUCTIONS) return false;
    if (p.inputs.length + c.inputs.length > MAX_INPUTS) return false;
    for (const o of p.outputs) {
      const id = (o.storage as TracedStorage).id;
      if (keep.has(id)) return false;
      const readers = readersOf.get(id);
      if (readers?.size !== 1 || !readers.has(ci)) return false;
    }
    // The consumer must read each produced value element for element.
    const ids = new Set(p.outputs.map((o) => (o.storage as TracedStorage).id));
    return c.inputs.every((v) => {
      const id = idOf(v);
      return (
        id === undefined ||
        !ids.has(id) ||
        (v.offset === 0 && sameShape(v.shape, c.outputs[0].shape) && isContiguous(v))
      );
    });
  };

  for (let ci = 0; ci < eqs.length; ci++) {
    for (let again = true; again && eqs[ci]; ) {
      again = false;
      for (const v of eqs[ci]!.inputs) {
        const id = idOf(v);
        const pi = id === undefined ? undefined : producerOf.get(id);
        if (pi === undefined || !eqs[pi] || !fusable(pi, ci)) continue;
        const producer = eqs[pi]!;
        for (const u of producer.inputs) readersOf.get(idOf(u) ?? -1)?.delete(pi);
        for (const u of eqs[ci]!.inputs) readersOf.get(idOf(u) ?? -1)?.delete(ci);
        eqs[ci] = merge(producer, eqs[ci]!);
        eqs[pi] = null;
        index(ci);
        again = true;
        break;
      }
    }
  }
  return eqs.filter((e): e is Equation => e !== null);
}
