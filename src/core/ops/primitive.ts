// How a primitive runs. It picks the backend (its inputs'), allocates its outputs there and
// launches its kernel — or, while `jit` traces, records the launch as an equation of the plan —
// and, when an input is traced by reverse mode, gives its first output the node with its VJP.

import { backend, getBackend, type Backend, type DType, type Program, type View } from "../backend.ts";
import { activeRecorder, EAGER_ENV, TracedStorage, type Launch } from "../recorder.ts";
import { contiguousStrides, shapeSize, type Shape } from "../shape.ts";
import { recordNode } from "../tape.ts";
import { checkAlive, checkTensor, Tensor } from "../tensor.ts";

/**
 * A VJP rule: the input cotangents for an output cotangent `dy`. `needs[i]` says whether input i
 * is traced; rules may return null for the others and skip their work. Rules are written in ops,
 * so they are differentiable in turn.
 */
export type Vjp = (dy: Tensor, needs: readonly boolean[]) => readonly (Tensor | null)[];

export interface PrimitiveCall {
  op: string;
  /** The tensors the kernel reads (gradients flow back to these). */
  inputs: readonly Tensor[];
  /** Output shapes; every output is contiguous. Only the first one is differentiable. */
  outputs: readonly Shape[];
  /** Output dtype; by default float64 if any input is, else float32. */
  dtype?: DType;
  /** Where an op without inputs runs (creation, random); others run on their inputs' backend. */
  backend?: Backend;
  launch: Launch;
  vjp: Vjp | null;
  /** For elementwise ops: the program `launch` runs, so that jit can fuse chains. */
  program?: Program;
  /** Record even with no traced input while jit traces (creation; random under a traced key). */
  alwaysRecord?: boolean;
}

/** Runs (or records) a primitive; returns its outputs. */
export function emitMany(call: PrimitiveCall): Tensor[] {
  const dtype = call.dtype ?? resultDtype(call.inputs);
  const be = call.backend ?? chooseBackend(call.inputs, dtype);
  for (const x of call.inputs) checkAlive(x, call.op);
  const views: View[] = call.inputs.map((x) => moveTo(x, be));
  const recorder = activeRecorder();
  const record =
    recorder !== undefined && (call.alwaysRecord === true || views.some((v) => v.storage instanceof TracedStorage));
  const outs = call.outputs.map((shape) => {
    const size = shapeSize(shape);
    const storage = record ? recorder.storage(be, dtype, size) : be.alloc(size, dtype);
    return { storage, shape, strides: contiguousStrides(shape), offset: 0 };
  });
  if (record)
    recorder.record({ op: call.op, inputs: views, outputs: outs, launch: call.launch, program: call.program });
  else call.launch(be, views, outs, EAGER_ENV);
  const { vjp, inputs } = call;
  const node = vjp ? recordNode(call.op, inputs, (dy) => vjp(dy, needsOf(inputs))) : undefined;
  return outs.map((o, i) => new Tensor(o.storage, o.shape, o.strides, 0, i === 0 ? node : undefined));
}

/** A primitive with one output. */
export function emit<S extends Shape>(call: Omit<PrimitiveCall, "outputs"> & { shape: S }): Tensor<S> {
  return emitMany({ ...call, outputs: [call.shape] })[0] as Tensor<S>;
}

/** An op's output as a view of `src`'s storage (reshape, permute, slice, broadcast): no kernel. */
export function emitView<S extends Shape>(
  op: string,
  src: Tensor,
  shape: S,
  strides: readonly number[],
  offset: number,
  vjp: Vjp,
): Tensor<S> {
  return new Tensor(
    src.storage,
    shape,
    strides,
    offset,
    recordNode(op, [src], (dy) => vjp(dy, needsOf([src]))),
  );
}

const needsOf = (inputs: readonly Tensor[]) => inputs.map((x) => x.node !== undefined);

export function resultDtype(inputs: readonly Tensor[]): DType {
  return inputs.some((x) => x.dtype === "float64") ? "float64" : "float32";
}

/**
 * Ops run where their inputs live: on the first input's backend that stores the result dtype
 * (float64 work goes to the reference backend when the inputs' own cannot hold it).
 */
function chooseBackend(inputs: readonly Tensor[], dtype: DType): Backend {
  for (const x of inputs) if (x.backend.dtypes.includes(dtype)) return x.backend;
  const preferred = backend();
  return preferred.dtypes.includes(dtype) ? preferred : getBackend("reference");
}

/**
 * The input as a view on `be`. Tensors of another backend are copied over (which needs a backend
 * that reads synchronously); float64 values moving to a float32-only backend are rounded.
 */
function moveTo(x: Tensor, be: Backend): View {
  if (x.backend === be) return x;
  const from = x.backend;
  if (x.storage instanceof TracedStorage) {
    throw new TypeError(`cannot move a traced tensor from ${from.name} to ${be.name} inside jit`);
  }
  if (!from.canReadSync) {
    throw new TypeError(
      `an op mixes a tensor on ${from.name} with tensors on ${be.name}; ${from.name} reads asynchronously, so move it ` +
        `first: \`await T.toBackend(x, "${be.name}")\``,
    );
  }
  const dtype = be.dtypes.includes(x.dtype) ? x.dtype : be.dtypes[0];
  return {
    storage: be.upload(from.readSync(x), dtype),
    shape: x.shape,
    strides: contiguousStrides(x.shape),
    offset: 0,
  };
}

/** A tensor or a plain number (a weakly typed constant) as an op operand. */
export type Operand = Tensor | number;
export type ShapeOf<T> = T extends Tensor<infer S> ? S : [];

export function checkOperand(x: Operand, op: string): Operand {
  if (typeof x === "number") return x;
  return checkTensor(x, op);
}
