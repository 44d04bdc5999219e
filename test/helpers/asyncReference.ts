// The `async-reference` backend: the reference backend's kernels behind `canReadSync: false`, so
// every synchronous read throws, as on a GPU. Importing this module registers it — in a test, or in
// a subprocess with `node --import tsx --import ./test/helpers/asyncReference.ts …`.

import { registerBackend, setBackend, type Backend } from "../../src/core/backend.ts";
import { HostStorage, newHostArray, referenceBackend } from "../../src/core/backends/reference.ts";

/** The reference backend, readable only with await. */
export const asyncReference: Backend = {
  ...referenceBackend,
  name: "async-reference",
  description: "the reference kernels, read only with await",
  canReadSync: false,
  alloc: (n, dtype) => new HostStorage(asyncReference, newHostArray(n, dtype)),
  upload(values, dtype) {
    const s = new HostStorage(asyncReference, newHostArray(values.length, dtype));
    s.data.set(values);
    return s;
  },
  readSync: () => {
    throw new Error("async-reference: a synchronous read (use await tensor.data())");
  },
  read: async (x) => referenceBackend.readSync(x),
};
registerBackend("async-reference", () => asyncReference);

/** Runs `f` with `name` as the backend new tensors go to, then goes back to the cpu backend; returns its result. */
export async function on<R>(name: string, f: () => Promise<R>): Promise<R> {
  setBackend(name);
  try {
    return await f();
  } finally {
    setBackend("cpu");
  }
}
