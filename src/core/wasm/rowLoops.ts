// Loop and lane helpers shared by the row kernels (softmaxKernels.ts, layerNormKernels.ts): a row is
// processed four floats at a time, then its last d & 3 floats one at a time; float64 work on four
// floats is two f64x2 halves.
import { type FunctionBuilder, I32, type Local, V128 } from "./assembler.ts";
import { inc, whileNot } from "./emit.ts";

const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** Pushes the two f64 lanes of the low (or high) half of a f32x4 local. */
export function half(f: FunctionBuilder, v: Local, upper: boolean): void {
  f.get(v);
  if (upper) f.get(v).shuffle(HIGH);
  f.op("f64x2.promote_low_f32x4");
}

/** Pushes the f32x4 made of two f64x2 locals (rounded). */
export function join(f: FunctionBuilder, lo: Local, hi: Local): void {
  f.get(lo).op("f32x4.demote_f64x2_zero").get(hi).op("f32x4.demote_f64x2_zero");
  f.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
}

/** Pushes the sum of the lanes of f64x2 locals. */
export function lanesSum(f: FunctionBuilder, ...accs: Local[]): void {
  f.get(accs[0]);
  for (const a of accs.slice(1)) f.get(a).op("f64x2.add");
  const t = f.local(V128);
  f.tee(t).f64x2ExtractLane(0).get(t).f64x2ExtractLane(1).op("f64.add");
}

/** Loops `body(p)` over the whole vectors of a row (count = d >> 2), advancing the given pointers by 16. */
export function vectors(f: FunctionBuilder, d: Local, ptrs: Local[], body: () => void): void {
  const n = f.local(I32);
  f.get(d).i32Const(2).op("i32.shr_u").set(n);
  whileNot(
    f,
    () => f.get(n).op("i32.eqz"),
    () => {
      body();
      for (const p of ptrs) inc(f, p, 16);
      inc(f, n, -1);
    },
  );
}

/** Loops `body()` over the last d & 3 elements of a row, advancing the given pointers by 4. */
export function tail(f: FunctionBuilder, d: Local, ptrs: Local[], body: () => void): void {
  const n = f.local(I32);
  f.get(d).i32Const(3).op("i32.and").set(n);
  whileNot(
    f,
    () => f.get(n).op("i32.eqz"),
    () => {
      body();
      for (const p of ptrs) inc(f, p, 4);
      inc(f, n, -1);
    },
  );
}

export const loadF64 = (f: FunctionBuilder, p: Local) => f.get(p).mem("f32.load").op("f64.promote_f32");
