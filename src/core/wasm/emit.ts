// Small control-flow helpers shared by the kernel emitters (structured wasm loops read as JS ones).
import { type FunctionBuilder, I32, type Local } from "./assembler.ts";

/** `while (!exit()) body()`. */
export function whileNot(f: FunctionBuilder, exit: () => void, body: () => void): void {
  f.block().loop();
  exit();
  f.brIf(1);
  body();
  f.br(0).end().end();
}

/** `for (i = from; i < to; i++) body()` over an i32 local (from/to evaluated once; `to` pushed by a callback). */
export function forRange(f: FunctionBuilder, i: Local, from: () => void, to: Local, body: () => void): void {
  from();
  f.set(i);
  whileNot(
    f,
    () => f.get(i).get(to).op("i32.ge_s"),
    () => {
      body();
      inc(f, i, 1);
    },
  );
}

/** l += by (i32). */
export function inc(f: FunctionBuilder, l: Local, by: number | Local): void {
  f.get(l);
  if (typeof by === "number") f.i32Const(by);
  else f.get(by);
  f.op("i32.add").set(l);
}

/** A kernel callable from the task table: 16 i32 parameters, the last one the thread's scratch address. */
export function kernelFunction(f: typeof FunctionBuilder): FunctionBuilder {
  return new f(new Array(16).fill(I32), []);
}

/** Pushes base + 4·i (the address of f32 element i). */
export function at4(f: FunctionBuilder, base: Local, i: Local): void {
  f.get(base).get(i).i32Const(2).op("i32.shl").op("i32.add");
}
