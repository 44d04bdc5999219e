// The Tensor: an immutable, strided view of backend-owned storage, with its shape in its type.

import type { Backend, DType, Storage, View } from "./backend.ts";
import { TracedStorage } from "./recorder.ts";
import { contiguousStrides, fmt, shapeSize, ShapeError, type Shape } from "./shape.ts";
import type { Node } from "./tape.ts";

/** Nested arrays of numbers whose depth is the rank of S. */
export type Nested<S extends Shape> = S extends readonly [number, ...infer R extends number[]]
  ? Nested<R>[]
  : S extends readonly []
    ? number
    : unknown;

export class Tensor<S extends Shape = Shape> implements View {
  /** The dims; a frozen array. */
  readonly shape: S;
  readonly strides: readonly number[];
  readonly offset: number;
  /** Where the elements live: owned by a backend, opaque here. */
  readonly storage: Storage;
  readonly size: number;
  /** Set when an op recorded this tensor in a trace (reverse mode). */
  readonly node: Node | undefined;

  /** @internal Tensors are made by ops and creation functions, never by callers. */
  constructor(storage: Storage, shape: S, strides: readonly number[], offset: number, node?: Node) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]) as unknown as S; // the array is a copy; its type is the caller's S
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.size = shapeSize(shape);
    this.node = node;
  }

  get rank(): S["length"] {
    return this.shape.length;
  }

  get dtype(): DType {
    return this.storage.dtype;
  }

  /** The backend holding this tensor's storage (its ops run there). */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** The values in row-major order, as a new Float32Array. Needs a backend that reads synchronously. */
  toArray(): Float32Array {
    const values = this.readSync("toArray");
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /** The values in row-major order as float64 (exact for float64 tensors). */
  toFloat64Array(): Float64Array {
    const values = this.readSync("toFloat64Array");
    return values instanceof Float64Array ? values : Float64Array.from(values);
  }

  /** Synchronous read-back, where the backend allows it (the CPU ones). */
  dataSync(): Float32Array {
    return this.toArray();
  }

  /** Asynchronous read-back: works on every backend (GPUs finish their queued work first). */
  async data(): Promise<Float32Array> {
    this.checkReadable("data");
    const values = await this.storage.backend.read(this);
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /** Nested arrays, as fromNested takes them. */
  toNested(): Nested<S> {
    const flat = this.toFloat64Array();
    const build = (dim: number, at: number): unknown => {
      if (dim === this.shape.length) return flat[at];
      const stride = shapeSize(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, at + i * stride));
    };
    return build(0, 0) as Nested<S>;
  }

  /** The single value of a size-1 tensor. */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
    return this.readSync("item")[0];
  }

  toString(): string {
    return `Tensor${fmt(this.shape)} ${this.dtype} on ${this.backend.name}`;
  }

  private checkReadable(what: string): void {
    checkAlive(this, what);
    if (this.storage instanceof TracedStorage) {
      throw new TypeError(
        `${what}: this tensor ${fmt(this.shape)} is a placeholder inside jit tracing; its value exists only when ` +
          "the compiled function runs (return it instead of reading it inside)",
      );
    }
  }

  private readSync(what: string): Float32Array | Float64Array {
    this.checkReadable(what);
    const be = this.storage.backend;
    if (!be.canReadSync) {
      throw new TypeError(`${what}: the ${be.name} backend reads asynchronously; use \`await tensor.data()\``);
    }
    return be.readSync(this);
  }
}

// ---- Donation: a tensor handed to a jit-compiled function may be overwritten by it ----

const consumed = new WeakSet<Tensor>();

/** @internal Marks a tensor whose storage a compiled function was allowed to overwrite. */
export function consume(t: Tensor): void {
  consumed.add(t);
}

/** Throws when `t` was donated (its values may be gone). */
export function checkAlive(t: Tensor, where: string): void {
  if (consumed.has(t)) {
    throw new TypeError(
      `${where}: this tensor ${fmt(t.shape)} was donated to a jit-compiled function, which may have overwritten it; use that function's outputs instead`,
    );
  }
}

/** @internal A tensor over the whole of fresh contiguous storage. */
export function fromStorage<S extends Shape>(storage: Storage, shape: S, node?: Node): Tensor<S> {
  return new Tensor(storage, shape, contiguousStrides(shape), 0, node);
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

/** Throws a TypeError naming `where` unless `v` is a Tensor. */
export function checkTensor(v: unknown, where: string): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${where}: expected a Tensor, got ${v === null ? "null" : typeof v}`);
  return v;
}

/**
 * Re-labels a tensor's shape type (no run-time effect). Ops on erased shapes return `Tensor`; the
 * typed public signatures use this once at their boundary, where the run-time checks already hold.
 */
export const typed = <S extends Shape>(t: Tensor): Tensor<S> => t as unknown as Tensor<S>;
