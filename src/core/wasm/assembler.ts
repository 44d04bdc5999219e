// A small WebAssembly assembler: emits module bytes (types, an imported memory, functions, exports)
// from TypeScript, following the WebAssembly core spec binary format (and the SIMD / relaxed-SIMD
// proposals for the v128 opcodes). Modelled on the idea of jax-js's wasmblr.ts.

/** Value types (binary encoding). */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128, used for sizes, indices and memarg fields. */
export function uleb(value: number): number[] {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`uleb: ${value} is not a non-negative integer`);
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer, used for i32.const. */
export function sleb(value: number): number[] {
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
    throw new RangeError(`sleb: ${value} is not a 32-bit integer`);
  }
  value |= 0; // reinterpret as a signed 32-bit value
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8(name: string): number[] {
  const bytes = [...new TextEncoder().encode(name)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A local (or parameter) of a function under construction. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/**
 * Builds one function body. Each method appends one instruction; the stack discipline is the
 * caller's business (the engine's validator reports mistakes when the module is compiled).
 */
export class FunctionBuilder {
  readonly params: Local[];
  readonly results: ValType[];
  private readonly locals: Local[] = [];
  private readonly code: number[] = [];

  constructor(paramTypes: ValType[], results: ValType[]) {
    this.params = paramTypes.map((type, index) => ({ index, type }));
    this.results = results;
  }

  /** Declares a fresh local of the given type. */
  local(type: ValType): Local {
    const l = { index: this.params.length + this.locals.length, type };
    this.locals.push(l);
    return l;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }

  // Variables and constants.
  get(l: Local): this {
    return this.op(0x20, ...uleb(l.index));
  }
  set(l: Local): this {
    return this.op(0x21, ...uleb(l.index));
  }
  tee(l: Local): this {
    return this.op(0x22, ...uleb(l.index));
  }
  i32Const(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  drop(): this {
    return this.op(0x1a);
  }

  // Structured control flow. `block`/`loop`/`if` take no values and return none (blocktype 0x40).
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...uleb(depth));
  }
  select(): this {
    return this.op(0x1b);
  }

  // i32 arithmetic and comparisons.
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32Shl(): this {
    return this.op(0x74);
  }

  // Scalar f32 memory access and arithmetic; memarg = (log2 alignment, byte offset).
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  f32Const0(): this {
    return this.op(0x43, 0, 0, 0, 0);
  }
  f32Add(): this {
    return this.op(0x92);
  }

  // SIMD (v128 = 4 x f32 here).
  v128Load(offset = 0): this {
    return this.simd(0x00, 4, ...uleb(offset));
  }
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, 2, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, 4, ...uleb(offset));
  }
  v128Zero(): this {
    return this.simd(0x0c, ...new Array<number>(16).fill(0));
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  /** Relaxed SIMD: a*b + c, fused or not at the engine's choice (stack: a b c). */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }

  /** The encoded body: local declarations (one entry per local) followed by the code. */
  encode(): number[] {
    const decls = this.locals.map((l) => [1, l.type]);
    const body = [...vec(decls), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** Limits of a shared linear memory, in 64 KiB pages. */
export interface SharedMemoryLimits {
  initialPages: number;
  maximumPages: number;
}

/**
 * A module that imports one shared memory as env.memory and exports the functions added to it.
 */
export class ModuleBuilder {
  private readonly functions: { name: string; fn: FunctionBuilder }[] = [];

  constructor(private readonly memory: SharedMemoryLimits) {}

  addFunction(name: string, fn: FunctionBuilder): void {
    this.functions.push({ name, fn });
  }

  encode(): Uint8Array {
    const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
    const types = this.functions.map(({ fn }) => [
      0x60,
      ...vec(fn.params.map((p) => [p.type])),
      ...vec(fn.results.map((r) => [r])),
    ]);
    const { initialPages, maximumPages } = this.memory;
    // Import kind 0x02 = memory; limits flag 0x03 = shared with a maximum.
    const memoryImport = [...utf8("env"), ...utf8("memory"), 0x02, 0x03, ...uleb(initialPages), ...uleb(maximumPages)];
    const exports = this.functions.map(({ name }, i) => [...utf8(name), 0x00, ...uleb(i)]);
    const bytes = [
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
      ...section(1, vec(types)),
      ...section(2, vec([memoryImport])),
      ...section(3, vec(this.functions.map((_, i) => uleb(i)))),
      ...section(7, vec(exports)),
      ...section(10, vec(this.functions.map(({ fn }) => fn.encode()))),
    ];
    return new Uint8Array(bytes);
  }
}
