// Shapes: run-time checks (ShapeError names the op and the shapes) and the type-level shape algebra.

/** A tensor shape. Dims are number literals where known (`[2, 3]`), `number` where not. */
export type Shape = readonly number[];

/** A shape mismatch, wrong rank or bad axis; the message names the op and the shapes involved. */
export class ShapeError extends Error {
  override name = "ShapeError";
}

export const fmt = (s: Shape): string => `[${s.join(", ")}]`;

export function shapeSize(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

/** Row-major strides of a contiguous array of shape `s`. */
export function contiguousStrides(s: Shape): number[] {
  const strides = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= s[i];
  }
  return strides;
}

/** Whether a strided layout is row-major contiguous (a size-1 dim may have any stride). */
export function isContiguous(v: { readonly shape: Shape; readonly strides: readonly number[] }): boolean {
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

/** Throws unless every dim is a non-negative integer. */
export function checkShape(op: string, s: Shape): void {
  if (!Array.isArray(s) || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`${op}: invalid shape ${Array.isArray(s) ? fmt(s) : String(s)} (dims must be integers >= 0)`);
  }
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast (dim ${i - rank}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** A possibly negative axis turned into 0..rank-1, or a ShapeError naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Axes for a reduction: all of them when undefined; sorted, unique. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new ShapeError(`${op}: repeated axis in [${list.join(", ")}]`);
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---- Type-level shape algebra. Literal dims are checked at compile time; `number` dims pass. ----

type IsTuple<S extends Shape> = number extends S["length"] ? false : true;

type BroadcastDim<A extends number, B extends number> = A extends 1
  ? B
  : B extends 1
    ? A
    : number extends A
      ? B
      : number extends B
        ? A
        : A extends B
          ? A
          : never;

type BroadcastTuples<A extends Shape, B extends Shape> = A extends readonly [
  ...infer AH extends number[],
  infer a extends number,
]
  ? B extends readonly [...infer BH extends number[], infer b extends number]
    ? [...BroadcastTuples<AH, BH>, BroadcastDim<a, b>]
    : [...A]
  : [...B];

/** The shape numpy broadcasting gives (a `never` dim where literal dims clash). */
export type Broadcast<A extends Shape, B extends Shape> =
  IsTuple<A> extends true ? (IsTuple<B> extends true ? BroadcastTuples<A, B> : Shape) : Shape;

type HasNever<S extends readonly unknown[]> = S extends readonly [infer H, ...infer T]
  ? [H] extends [never]
    ? true
    : HasNever<T>
  : false;

/** An extra, impossible parameter when two literal shapes cannot broadcast: a compile error at the call. */
export type CheckBroadcast<A extends Shape, B extends Shape> =
  HasNever<Broadcast<A, B>> extends true ? [error: "shapes do not broadcast"] : [];

/** Shape of `a @ b` for rank >= 2 operands; `never` dims when the inner dims clash. */
export type MatmulShape<A extends Shape, B extends Shape> = A extends readonly [
  ...infer AB extends number[],
  infer M extends number,
  infer K1 extends number,
]
  ? B extends readonly [...infer BB extends number[], infer K2 extends number, infer N extends number]
    ? BroadcastDim<K1, K2> extends never
      ? never
      : [...Broadcast<AB, BB>, M, N]
    : IsTuple<B> extends true
      ? never
      : Shape
  : IsTuple<A> extends true
    ? never
    : Shape;

export type CheckMatmul<A extends Shape, B extends Shape> = [MatmulShape<A, B>] extends [never]
  ? [error: "matmul needs [..., m, k] @ [..., k, n] with equal k"]
  : HasNever<MatmulShape<A, B>> extends true
    ? [error: "matmul batch dims do not broadcast"]
    : [];
