// The reference backend: host typed arrays and the plain loops of hostKernels.ts. It is the spec the
// fast backends are held to, it runs float64 (gradient checks), and it needs nothing but JavaScript.

import { registerBackend, type Backend, type DType, type Storage, type Target, type View } from "../backend.ts";
import * as K from "./hostKernels.ts";
import * as R from "./hostRowKernels.ts";
import type { HostArray, HostView } from "./hostKernels.ts";

/** Storage in a JavaScript typed array (collected by the garbage collector like any array). */
export class HostStorage implements Storage {
  constructor(
    readonly backend: Backend,
    readonly data: HostArray,
  ) {}
  get dtype(): DType {
    return this.data instanceof Float64Array ? "float64" : "float32";
  }
  get size(): number {
    return this.data.length;
  }
}

export const newHostArray = (size: number, dtype: DType): HostArray =>
  dtype === "float64" ? new Float64Array(size) : new Float32Array(size);

/** The host array behind a reference-backend storage. */
export function hostData(s: Storage): HostArray {
  if (!(s instanceof HostStorage))
    throw new TypeError(`expected host storage, got storage of backend "${s.backend.name}"`);
  return s.data;
}

const host = (v: View): HostView => ({
  data: hostData(v.storage),
  shape: v.shape,
  strides: v.strides,
  offset: v.offset,
});
const out = (t: Target): [HostArray, number] => [hostData(t.storage), t.offset];

export const referenceBackend: Backend = {
  name: "reference",
  dtypes: ["float32", "float64"],
  canReadSync: true,

  alloc: (size, dtype) => new HostStorage(referenceBackend, newHostArray(size, dtype)),
  upload(values, dtype) {
    const data = newHostArray(values.length, dtype);
    data.set(values);
    return new HostStorage(referenceBackend, data);
  },
  readSync: (x) =>
    K.gatherView(
      host(x),
      newHostArray(
        x.shape.reduce((a, b) => a * b, 1),
        x.storage.dtype,
      ),
    ),
  read: async (x) => referenceBackend.readSync(x),
  free: () => {}, // the garbage collector reclaims host arrays

  elementwise: (program, inputs, shape, outputs) => K.runProgram(program, inputs.map(host), shape, outputs.map(host)),
  reduce: (op, x, axes, t) => K.reduce(op, host(x), axes, ...out(t)),
  matmul: (a, b, t) => K.matmul(host(a), host(b), ...out(t)),
  gather: (x, index, axis, t) => K.gather(host(x), host(index), axis, ...out(t)),
  scatterAdd: (base, index, src, axis, t) => K.scatterAdd(host(base), host(index), host(src), axis, ...out(t)),
  argsort: (x, axis, descending, t) => K.argsort(host(x), axis, descending, ...out(t)),
  argmax: (x, axis, t) => K.argmax(host(x), axis, ...out(t)),
  softmax: (x, t) => R.softmax(host(x), ...out(t)),
  softmaxBackward: (y, dy, t) => R.softmaxBackward(host(y), host(dy), ...out(t)),
  layerNorm(x, weight, bias, eps, t, mean, rstd) {
    const [o, at] = out(t);
    const [m, meanAt] = out(mean);
    const [r, rstdAt] = out(rstd);
    R.layerNorm(host(x), host(weight), host(bias), eps, { out: o, at, mean: m, meanAt, rstd: r, rstdAt });
  },
  layerNormBackward(dy, x, weight, mean, rstd, dx, dweight, dbias) {
    const target = (t: Target | null) => (t ? { data: hostData(t.storage), at: t.offset } : null);
    R.layerNormBackward(host(dy), host(x), host(weight), host(mean), host(rstd), {
      dx: target(dx),
      dweight: target(dweight),
      dbias: target(dbias),
    });
  },
  random: (dist, key, size, t) => R.random(dist, key, size, ...out(t)),
};

registerBackend("reference", () => referenceBackend);
