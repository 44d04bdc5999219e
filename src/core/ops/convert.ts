// Moving tensors between dtypes, backends and the scijs `ndarray` world.

import ndarray from "ndarray";
import { backend, getBackend, type DType, type Program } from "../backend.ts";
import { HostStorage, referenceBackend } from "../backends/reference.ts";
import { fromArray } from "../creation.ts";
import { contiguousStrides, shapeSize, type Shape } from "../shape.ts";
import { Tensor, typed } from "../tensor.ts";
import { emit } from "./primitive.ts";

const COPY: Program = {
  code: [
    { op: "input", index: 0 },
    { op: "identity", x: 0 },
  ],
  outputs: [1],
};

/** The same values in another dtype (float64 tensors live where float64 can: see creation.ts). */
export function astype<S extends Shape>(x: Tensor<S>, dtype: DType): Tensor<S> {
  if (x.dtype === dtype) return x;
  return emit({
    op: "astype",
    inputs: [x],
    shape: x.shape,
    dtype,
    launch: (be, ins, outs) => be.elementwise(COPY, ins, x.shape, outs),
    vjp: (dy) => [astype(dy, x.dtype)],
    program: COPY,
  });
}

/** x on the named backend (a copy; the same tensor when it is already there). Needs a synchronous read. */
export function toBackendSync<S extends Shape>(x: Tensor<S>, name: string): Tensor<S> {
  const be = getBackend(name);
  if (x.backend === be) return x;
  if (!x.backend.canReadSync)
    throw new TypeError(`toBackendSync: ${x.backend.name} reads asynchronously; use await T.toBackend`);
  return moved(x, name, fromArray(x.backend.readSync(x), x.shape, { dtype: x.dtype, backend: name }));
}

/** x on the named backend, from any backend (GPU reads are asynchronous). */
export async function toBackend<S extends Shape>(x: Tensor<S>, name: string): Promise<Tensor<S>> {
  const be = getBackend(name);
  if (x.backend === be) return x;
  return moved(x, name, fromArray(await x.backend.read(x), x.shape, { dtype: x.dtype, backend: name }));
}

/** The moved copy, linked for reverse mode: the cotangent moves back. */
function moved<S extends Shape>(x: Tensor<S>, name: string, copy: Tensor<S>): Tensor<S> {
  if (!x.node) return copy;
  const from = x.backend.name;
  return typed<S>(
    emit({
      op: "toBackend",
      inputs: [x],
      shape: x.shape,
      backend: getBackend(name),
      launch: (be, _ins, outs) => be.elementwise(COPY, [copy], x.shape, outs),
      vjp: (dy) => [toBackendSync(dy, from)],
    }),
  );
}

// ---- ndarray (scijs) ----

/**
 * A tensor from an ndarray, on the chosen backend (or `opts.backend`). On the reference backend,
 * whose storage is host arrays, Float32/Float64 data is shared, not copied (the ndarray's shape,
 * strides and offset become the tensor's view): mutate neither afterwards. Otherwise it is copied.
 */
export function fromNdarray(nd: ndarray.NdArray, opts: { backend?: string } = {}): Tensor {
  const shape = [...nd.shape];
  const data = nd.data as unknown;
  const target = opts.backend ?? backend().name;
  if (target === "reference" && (data instanceof Float32Array || data instanceof Float64Array)) {
    return new Tensor(new HostStorage(referenceBackend, data), shape, [...nd.stride], nd.offset);
  }
  const flat = new Float64Array(shapeSize(shape));
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < flat.length; i++) {
    flat[i] = nd.get(...index);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  const dtype: DType = data instanceof Float64Array ? "float64" : "float32";
  return fromArray(flat, shape, { dtype, backend: opts.backend });
}

/** An ndarray of the tensor's values: a view sharing host storage where it can, else a copy. */
export function toNdarray(t: Tensor): ndarray.NdArray<Float32Array | Float64Array> {
  if (t.storage instanceof HostStorage) return ndarray(t.storage.data, [...t.shape], [...t.strides], t.offset);
  const values = t.dtype === "float64" ? t.toFloat64Array() : t.toArray();
  return ndarray(values, [...t.shape], contiguousStrides(t.shape), 0);
}
