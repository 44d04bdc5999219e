// A small WebAssembly assembler: emits module bytes (types, imports, functions, exports) from
// TypeScript, following the WebAssembly core spec binary format (and the SIMD / relaxed-SIMD
// proposals for the v128 opcodes). Modelled on the idea of jax-js's wasmblr.ts.
import { MEMORY, type MemoryOp, PLAIN, type PlainOp, SIMD, type SimdOp } from "./opcodes.ts";

/** Value types (binary encoding). */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

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

const f32Bytes = (v: number) => [...new Uint8Array(new Float32Array([v]).buffer)];
const f64Bytes = (v: number) => [...new Uint8Array(new Float64Array([v]).buffer)];

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

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  /** An instruction without immediates, by its text-format name. */
  op(name: PlainOp | SimdOp): this {
    if (name in PLAIN) return this.emit(PLAIN[name as PlainOp]);
    return this.emit(0xfd, ...uleb(SIMD[name as SimdOp]));
  }
  /** A load or store at the address on the stack plus a constant byte offset. */
  mem(name: MemoryOp, offset = 0): this {
    const spec = MEMORY[name];
    return this.emit(...spec.slice(0, -1), spec[spec.length - 1], ...uleb(offset));
  }

  // Variables, constants and calls.
  get(l: Local): this {
    return this.emit(0x20, ...uleb(l.index));
  }
  set(l: Local): this {
    return this.emit(0x21, ...uleb(l.index));
  }
  tee(l: Local): this {
    return this.emit(0x22, ...uleb(l.index));
  }
  i32Const(v: number): this {
    return this.emit(0x41, ...sleb(v));
  }
  f32Const(v: number): this {
    return this.emit(0x43, ...f32Bytes(v));
  }
  f64Const(v: number): this {
    return this.emit(0x44, ...f64Bytes(v));
  }
  /** v128.const of four f32 lanes (one value splatted when a single number is given). */
  f32x4Const(...lanes: number[]): this {
    const v = lanes.length === 1 ? [lanes[0], lanes[0], lanes[0], lanes[0]] : lanes;
    return this.emit(0xfd, 0x0c, ...v.flatMap(f32Bytes));
  }
  i32x4Const(...lanes: number[]): this {
    const v = lanes.length === 1 ? [lanes[0], lanes[0], lanes[0], lanes[0]] : lanes;
    return this.emit(0xfd, 0x0c, ...new Uint8Array(new Int32Array(v).buffer));
  }
  f64x2Const(v: number): this {
    return this.emit(0xfd, 0x0c, ...f64Bytes(v), ...f64Bytes(v));
  }
  /** Calls function `index` of the module (imports first, then defined functions). */
  call(index: number): this {
    return this.emit(0x10, ...uleb(index));
  }
  /** i8x16.shuffle: result byte i is byte lanes[i] of the concatenation of the two operands. */
  shuffle(lanes: number[]): this {
    return this.emit(0xfd, 0x0d, ...lanes);
  }
  f32x4ExtractLane(lane: number): this {
    return this.emit(0xfd, 0x1f, lane);
  }
  f32x4ReplaceLane(lane: number): this {
    return this.emit(0xfd, 0x20, lane);
  }
  i32x4ExtractLane(lane: number): this {
    return this.emit(0xfd, 0x1b, lane);
  }
  f64x2ExtractLane(lane: number): this {
    return this.emit(0xfd, 0x21, lane);
  }
  f64x2ReplaceLane(lane: number): this {
    return this.emit(0xfd, 0x22, lane);
  }
  /** memory.copy (dst, src, bytes on the stack) and memory.fill (dst, byte, bytes): bulk memory. */
  memoryCopy(): this {
    return this.emit(0xfc, 0x0a, 0x00, 0x00);
  }
  memoryFill(): this {
    return this.emit(0xfc, 0x0b, 0x00);
  }

  // Structured control flow. `block`/`loop`/`if` take no values and return none (blocktype 0x40).
  block(): this {
    return this.emit(0x02, 0x40);
  }
  loop(): this {
    return this.emit(0x03, 0x40);
  }
  if(): this {
    return this.emit(0x04, 0x40);
  }
  else(): this {
    return this.emit(0x05);
  }
  end(): this {
    return this.emit(0x0b);
  }
  br(depth: number): this {
    return this.emit(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.emit(0x0d, ...uleb(depth));
  }
  /** br_table: jumps to depths[i] for the i on the stack, else to `fallback`. */
  brTable(depths: number[], fallback: number): this {
    return this.emit(0x0e, ...vec(depths.map((d) => uleb(d))), ...uleb(fallback));
  }

  // Shorthands used by the GEMM emitter.
  drop = () => this.op("drop");
  select = () => this.op("select");
  i32Eqz = () => this.op("i32.eqz");
  i32Eq = () => this.op("i32.eq");
  i32Ne = () => this.op("i32.ne");
  i32LtS = () => this.op("i32.lt_s");
  i32GtS = () => this.op("i32.gt_s");
  i32LeS = () => this.op("i32.le_s");
  i32GeS = () => this.op("i32.ge_s");
  i32Add = () => this.op("i32.add");
  i32Sub = () => this.op("i32.sub");
  i32Mul = () => this.op("i32.mul");
  i32And = () => this.op("i32.and");
  i32Or = () => this.op("i32.or");
  i32Shl = () => this.op("i32.shl");
  f32Add = () => this.op("f32.add");
  f32Const0 = () => this.f32Const(0);
  f32Load = (offset = 0) => this.mem("f32.load", offset);
  f32Store = (offset = 0) => this.mem("f32.store", offset);
  v128Load = (offset = 0) => this.mem("v128.load", offset);
  v128Load32Splat = (offset = 0) => this.mem("v128.load32_splat", offset);
  v128Store = (offset = 0) => this.mem("v128.store", offset);
  v128Zero = () => this.i32x4Const(0);
  f32x4Add = () => this.op("f32x4.add");
  f32x4Mul = () => this.op("f32x4.mul");
  /** Relaxed SIMD: a*b + c, fused or not at the engine's choice (stack: a b c). */
  f32x4RelaxedMadd = () => this.op("f32x4.relaxed_madd");

  /** The encoded body: local declarations (one entry per local) followed by the code. */
  encode(): number[] {
    const decls = this.locals.map((l) => [1, l.type]);
    const body = [...vec(decls), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** Limits of the imported linear memory, in 64 KiB pages; `shared` needs cross-origin isolation on the web. */
export interface MemoryLimits {
  initialPages: number;
  maximumPages: number;
  shared?: boolean;
}

interface Signature {
  params: ValType[];
  results: ValType[];
}

/**
 * A module that imports one memory as env.memory (shared unless told otherwise), optionally some
 * functions from env, and exports the functions added to it. Function indices: imports first, in
 * the order imported, then defined functions in the order added.
 */
export class ModuleBuilder {
  private readonly imports: { name: string; sig: Signature }[] = [];
  private readonly functions: { name: string | null; fn: FunctionBuilder }[] = [];

  constructor(private readonly memory: MemoryLimits) {}

  /** Imports env[name] with the given signature; returns its function index. Import before adding functions. */
  importFunction(name: string, params: ValType[], results: ValType[]): number {
    if (this.functions.length > 0) throw new Error("ModuleBuilder: import functions before adding any");
    this.imports.push({ name, sig: { params, results } });
    return this.imports.length - 1;
  }

  /** Adds a function, exported under `name` unless it is null; returns its function index. */
  addFunction(name: string | null, fn: FunctionBuilder): number {
    this.functions.push({ name, fn });
    return this.imports.length + this.functions.length - 1;
  }

  /** The exported function names, in the order added. */
  exportNames(): string[] {
    return this.functions.flatMap(({ name }) => (name === null ? [] : [name]));
  }

  encode(): Uint8Array {
    const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
    const sigs: Signature[] = [
      ...this.imports.map((i) => i.sig),
      ...this.functions.map(({ fn }) => ({ params: fn.params.map((p) => p.type), results: fn.results })),
    ];
    const types = sigs.map((s) => [0x60, ...vec(s.params.map((p) => [p])), ...vec(s.results.map((r) => [r]))]);
    const { initialPages, maximumPages, shared = true } = this.memory;
    // Import kind 0x02 = memory; limits flag 0x03 = shared with a maximum, 0x01 = unshared with one.
    const memoryImport = [
      ...utf8("env"),
      ...utf8("memory"),
      0x02,
      shared ? 0x03 : 0x01,
      ...uleb(initialPages),
      ...uleb(maximumPages),
    ];
    const functionImports = this.imports.map((imp, i) => [...utf8("env"), ...utf8(imp.name), 0x00, ...uleb(i)]);
    const exports = this.functions.flatMap(({ name }, i) =>
      name === null ? [] : [[...utf8(name), 0x00, ...uleb(this.imports.length + i)]],
    );
    const bytes = [
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
      ...section(1, vec(types)),
      ...section(2, vec([...functionImports, memoryImport])),
      ...section(3, vec(this.functions.map((_, i) => uleb(this.imports.length + i)))),
      ...section(7, vec(exports)),
      ...section(10, vec(this.functions.map(({ fn }) => fn.encode()))),
    ];
    return new Uint8Array(bytes);
  }
}
