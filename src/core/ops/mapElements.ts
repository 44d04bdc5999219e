// Custom elementwise kernels: write the per-element math once, symbolically, and it runs as one
// program (one pass over memory, every output at once) on any backend — the way the optimizer
// update is written. Such ops have no gradient.

import type { BinaryOp, Instruction, Program, UnaryOp } from "../backend.ts";
import { broadcastShapes, fmt, ShapeError, type Shape } from "../shape.ts";
import { TracedStorage } from "../recorder.ts";
import { Tensor } from "../tensor.ts";
import { broadcastTo } from "./movement.ts";
import { emitMany } from "./primitive.ts";

/** One element's value while the program is being written. */
export class Element {
  constructor(
    private readonly code: Instruction[],
    readonly register: number,
  ) {}
  private push(ins: Instruction): Element {
    this.code.push(ins);
    return new Element(this.code, this.code.length - 1);
  }
  private reg(v: Element | number): number {
    return typeof v === "number" ? this.push({ op: "const", value: v }).register : v.register;
  }
  private binary(op: BinaryOp, other: Element | number): Element {
    const y = this.reg(other);
    return this.push({ op, x: this.register, y });
  }
  unary(op: UnaryOp): Element {
    return this.push({ op, x: this.register });
  }
  add = (o: Element | number) => this.binary("add", o);
  sub = (o: Element | number) => this.binary("sub", o);
  mul = (o: Element | number) => this.binary("mul", o);
  div = (o: Element | number) => this.binary("div", o);
  pow = (o: Element | number) => this.binary("pow", o);
  maximum = (o: Element | number) => this.binary("maximum", o);
  minimum = (o: Element | number) => this.binary("minimum", o);
  /** this ≠ 0 ? a : b */
  select = (a: Element, b: Element) => this.push({ op: "where", cond: this.register, x: a.register, y: b.register });
  sqrt = () => this.unary("sqrt");
  neg = () => this.unary("neg");
}

export interface MapElementsOptions {
  /** Output j is written into input `inPlace[j]`'s storage (eager only; the input must be contiguous). */
  inPlace?: readonly (number | undefined)[];
}

/**
 * Runs `body` per element over the inputs broadcast together; returns one tensor per returned
 * element, all of the broadcast shape.
 */
export function mapElements(
  name: string,
  inputs: readonly Tensor[],
  body: (...xs: Element[]) => Element[],
  opts: MapElementsOptions = {},
): Tensor[] {
  const shape = inputs.reduce<Shape>((s, t) => broadcastShapes(name, s, t.shape), []);
  const code: Instruction[] = inputs.map((_, index) => ({ op: "input", index }));
  const outs = body(...inputs.map((_, i) => new Element(code, i)));
  const program: Program = { code, outputs: outs.map((o) => o.register) };
  const views = inputs.map((t) => broadcastTo(t, shape));
  // Inside jit the plan decides where outputs go (it reuses dead buffers itself).
  const inPlace = inputs.some((t) => t.storage instanceof TracedStorage) ? [] : (opts.inPlace ?? []);
  inPlace.forEach((i, j) => {
    if (i === undefined) return;
    const t = inputs[i];
    if (fmt(t.shape) !== fmt(shape) || t.offset !== 0 || t.storage.size !== t.size) {
      throw new ShapeError(
        `${name}: output ${j} cannot be written into input ${i} (${fmt(t.shape)}), not a whole contiguous tensor`,
      );
    }
  });
  const results = emitMany({
    op: name,
    inputs: views,
    outputs: outs.map(() => shape),
    launch: (be, ins, outViews) =>
      be.elementwise(
        program,
        ins,
        shape,
        outViews.map((o, j) => (inPlace[j] === undefined ? o : ins[inPlace[j]!])),
      ),
    vjp: null,
    program,
  });
  // In place: the result is the input's storage, which the launch wrote.
  return results.map((r, j) =>
    inPlace[j] === undefined ? r : new Tensor(inputs[inPlace[j]!].storage, shape, r.strides, 0),
  );
}
