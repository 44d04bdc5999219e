// Emits the elementwise block interpreter (numexpr's design: Cooke, Hubbard et al.): one fixed wasm
// function runs ANY elementwise Program. The program arrives as bytecode in a descriptor in memory;
// a task walks its element range in blocks of B floats, and each instruction is one SIMD loop over
// the block, reading and writing per-thread scratch "registers". Contiguous inputs are read in
// place, stride-0 inputs are splatted once per task, other strides are gathered per block along
// the innermost dimension; outputs are copied (or scattered) out at the end of each block.
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from "../backend.ts";
import { FunctionBuilder, I32, type Local, type ModuleBuilder, V128 } from "./assembler.ts";
import { inc, whileNot } from "./emit.ts";
import { THREAD_SCRATCH_BYTES } from "./pool.ts";
import { BINARY_CODE, powi, type Regs, UNARY_CODE } from "./elementwiseOps.ts";
import { emitCopy, emitWalk } from "./elementwiseWalk.ts";

/** Interpreter opcodes: an instruction's op, plus `powi` (pow by a small integer constant). */
export const EW_OPCODES = ["input", "const", ...UNARY_OPS, ...BINARY_OPS, "where", "powi"] as const;
export type EwOpcode = (typeof EW_OPCODES)[number];

/** Descriptor layout, in i32 words from its start. */
export const EW = {
  RANK: 0, //       dims of the (coalesced) iteration shape, 1..MAX_RANK
  CODE: 1, //       instructions
  BLOCK: 2, //      floats per block (a multiple of 4)
  OUTPUTS: 3, //    outputs
  SHAPE: 4, //      the shape, outermost first
  MAX_RANK: 8,
  OPERANDS: 12, //  inputs, then outputs: [kind, byte address, byte strides × MAX_RANK]
  OPERAND_INTS: 10,
  MAX_OPERANDS: 48,
  INSTR: 12 + 48 * 10, // [opcode, x, y, z, slot]: x, y, z are registers (instruction indices) or immediates
  INSTR_INTS: 5,
  MAX_CODE: 256,
  OUTS: 12 + 48 * 10 + 256 * 5, // [register, operand] per output
  MAX_OUTPUTS: 32,
  WORDS: 12 + 48 * 10 + 256 * 5 + 64,
} as const;

/** How an operand is laid out over the iteration shape. */
export const KIND = { contiguous: 0, splat: 1, strided: 2 } as const;

/** Per-thread scratch: the register address table, the index odometer, then the register slots. */
export const EW_TABLE_AT = 0;
export const EW_INDEX_AT = 4 * EW.MAX_CODE;
export const EW_SLOTS_AT = EW_INDEX_AT + 4 * EW.MAX_RANK;
export const EW_SLOT_BYTES = THREAD_SCRATCH_BYTES - EW_SLOTS_AT;
/** A slot holds a block plus one vector of padding (splat gathers may overrun a segment by 3 floats). */
export const slotStride = (block: number): number => 4 * (block + 4);

export function addElementwiseKernel(module: ModuleBuilder): void {
  const copy = module.addFunction(null, emitCopy());
  const walk = module.addFunction(null, emitWalk(copy));
  module.addFunction("elementwise", emitInterpreter(copy, walk));
}

/** elementwise(desc, start, end, …, scratch): runs the program on elements [start, end). */
function emitInterpreter(copy: number, walk: number): FunctionBuilder {
  const f = new FunctionBuilder(new Array(16).fill(I32), []);
  const [desc, start, end] = f.params;
  const scratch = f.params[15];
  const L = () => f.local(I32);
  const [nCode, block, stride, slots, v, ins, op, e0, len, nvec, dst, pa, pb, pc, cnt, opd] = Array.from(
    { length: 16 },
    L,
  );
  const [rank, shape, index, j, n] = [L(), L(), L(), L(), L()];
  const regs: Regs = { a: f.local(V128), b: f.local(V128), c: f.local(V128) };
  const word = (base: Local, at: number) => f.get(base).mem("i32.load", 4 * at);
  const insAt = () => {
    f.get(desc)
      .i32Const(4 * EW.INSTR)
      .op("i32.add")
      .get(v)
      .i32Const(4 * EW.INSTR_INTS);
    f.op("i32.mul").op("i32.add").set(ins);
  };
  const operandAt = (i: () => void) => {
    i();
    f.i32Const(4 * EW.OPERAND_INTS)
      .op("i32.mul")
      .get(desc)
      .op("i32.add")
      .i32Const(4 * EW.OPERANDS)
      .op("i32.add");
    f.set(opd);
  };
  const tableAt = (reg: () => void) => {
    f.get(scratch);
    reg();
    f.i32Const(2).op("i32.shl").op("i32.add");
  };
  /** Fills `count` floats at dst with the f32 value pushed by `value`. */
  const fill = (value: () => void) => {
    value();
    f.op("f32x4.splat").set(regs.a).get(dst).set(pa).get(block).set(cnt);
    whileNot(
      f,
      () => f.get(cnt).i32Const(0).op("i32.le_s"),
      () => {
        f.get(pa).get(regs.a).mem("v128.store");
        inc(f, pa, 16);
        inc(f, cnt, -4);
      },
    );
  };

  word(desc, EW.CODE).set(nCode);
  word(desc, EW.BLOCK).set(block);
  word(desc, EW.RANK).set(rank);
  word(desc, EW.OUTPUTS).set(n);
  f.get(desc)
    .i32Const(4 * EW.SHAPE)
    .op("i32.add")
    .set(shape);
  f.get(scratch).i32Const(EW_INDEX_AT).op("i32.add").set(index);
  f.get(scratch).i32Const(EW_SLOTS_AT).op("i32.add").set(slots);
  f.get(block).i32Const(4).op("i32.add").i32Const(2).op("i32.shl").set(stride);

  // Per task: every register's slot address; constants and splatted inputs filled once.
  f.i32Const(0).set(v);
  whileNot(
    f,
    () => f.get(v).get(nCode).op("i32.ge_s"),
    () => {
      insAt();
      tableAt(() => f.get(v));
      f.get(slots).get(ins).mem("i32.load", 16).get(stride).op("i32.mul").op("i32.add").tee(dst).mem("i32.store");
      word(ins, 0).set(op);
      f.get(op).i32Const(EW_OPCODES.indexOf("const")).op("i32.eq").if();
      fill(() => f.get(ins).mem("f32.load", 4));
      f.end();
      f.get(op).op("i32.eqz").if();
      operandAt(() => word(ins, 1));
      word(opd, 0).i32Const(KIND.splat).op("i32.eq").if();
      fill(() => word(opd, 1).mem("f32.load"));
      f.end().end();
      inc(f, v, 1);
    },
  );

  f.get(start).set(e0);
  whileNot(
    f,
    () => f.get(e0).get(end).op("i32.ge_s"),
    () => {
      f.get(end).get(e0).op("i32.sub").set(len);
      f.get(block).get(len).get(block).get(len).op("i32.lt_s").op("select").set(len);
      f.get(len).i32Const(3).op("i32.add").i32Const(2).op("i32.shr_u").set(nvec);
      f.i32Const(0).set(v);
      whileNot(
        f,
        () => f.get(v).get(nCode).op("i32.ge_s"),
        () => {
          insAt();
          tableAt(() => f.get(v));
          f.mem("i32.load").set(dst);
          word(ins, 0).set(op);
          emitDispatch(f, { ins, op, dst, nvec, pa, pb, pc, cnt, regs, operand: () => operandInput() });
          inc(f, v, 1);
        },
      );
      // Outputs: copy each block out (contiguous) or scatter it along the strides.
      f.i32Const(0).set(j);
      whileNot(
        f,
        () => f.get(j).get(n).op("i32.ge_s"),
        () => {
          const out = (k: number) =>
            f
              .get(desc)
              .get(j)
              .i32Const(8)
              .op("i32.mul")
              .op("i32.add")
              .mem("i32.load", 4 * (EW.OUTS + k));
          tableAt(() => out(0));
          f.mem("i32.load").set(pa);
          operandAt(() => out(1));
          word(opd, 0).i32Const(KIND.contiguous).op("i32.eq").if();
          word(opd, 1).get(e0).i32Const(2).op("i32.shl").op("i32.add").i32Const(4).get(pa).i32Const(4).get(len);
          f.call(copy);
          f.else();
          f.get(opd).get(shape).get(rank).get(index).get(e0).get(len).get(pa).i32Const(1).call(walk);
          f.end();
          inc(f, j, 1);
        },
      );
      inc(f, e0, len);
    },
  );
  return f;

  /** The input instruction: point its register at the block (contiguous) or gather it (strided). */
  function operandInput(): void {
    operandAt(() => word(ins, 1));
    word(opd, 0).i32Const(KIND.contiguous).op("i32.eq").if();
    tableAt(() => f.get(v));
    word(opd, 1).get(e0).i32Const(2).op("i32.shl").op("i32.add").mem("i32.store");
    f.else();
    word(opd, 0).i32Const(KIND.strided).op("i32.eq").if();
    f.get(opd).get(shape).get(rank).get(index).get(e0).get(len).get(dst).i32Const(0).call(walk);
    f.end().end();
  }
}

interface DispatchLocals {
  ins: Local;
  op: Local;
  dst: Local;
  nvec: Local;
  pa: Local;
  pb: Local;
  pc: Local;
  cnt: Local;
  regs: Regs;
  operand: () => void;
}

/** Ops of a few instructions, whose loops are unrolled. */
const CHEAP = new Set<string>([
  "identity",
  "neg",
  "sqrt",
  "rsqrt",
  "abs",
  "relu",
  "sign",
  "floor",
  "add",
  "sub",
  "mul",
  "div",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
]); // prettier-ignore

/**
 * The float32 math functions are latency-bound (long Horner chains): two vectors per iteration let
 * them overlap (exp 4.4 → 2.9 ns per element alone, tanh 6.5 → 3.8; the float64 gelu family spills
 * registers when unrolled and stays at one).
 */
const UNROLL: Record<string, number> = { exp: 2, log: 2, tanh: 2, sigmoid: 2, erf: 2 };

/** br_table over the opcodes; each case is one loop over the block's vectors. */
function emitDispatch(f: FunctionBuilder, l: DispatchLocals): void {
  const cases = EW_OPCODES.length;
  const regAddr = (field: number, into: Local) => {
    // table[ins[field]]: the table sits at the start of scratch, whose address is dst's base…
    // …so it is read through the scratch parameter.
    f.get(f.params[15])
      .get(l.ins)
      .mem("i32.load", 4 * field)
      .i32Const(2)
      .op("i32.shl")
      .op("i32.add");
    f.mem("i32.load").set(into);
  };
  /**
   * for each vector: dst = code(a[, b[, c]]). Cheap ops (a few instructions) go four vectors per
   * iteration, so that the loop's own pointer and counter updates do not dominate.
   */
  const loop = (arity: number, code: () => void, unroll = 1) => {
    const ptrs = [l.pa, l.pb, l.pc].slice(0, arity);
    const vals = [l.regs.a, l.regs.b, l.regs.c];
    const step = (u: number) => {
      f.get(l.dst);
      ptrs.forEach((p, i) =>
        f
          .get(p)
          .mem("v128.load", 16 * u)
          .set(vals[i]),
      );
      code();
      f.mem("v128.store", 16 * u);
    };
    const advance = (vectors: number) => {
      inc(f, l.dst, 16 * vectors);
      for (const p of ptrs) inc(f, p, 16 * vectors);
      inc(f, l.cnt, -vectors);
    };
    f.get(l.nvec).set(l.cnt);
    if (unroll > 1) {
      whileNot(
        f,
        () => f.get(l.cnt).i32Const(unroll).op("i32.lt_s"),
        () => {
          for (let u = 0; u < unroll; u++) step(u);
          advance(unroll);
        },
      );
    }
    whileNot(
      f,
      () => f.get(l.cnt).op("i32.eqz"),
      () => {
        step(0);
        advance(1);
      },
    );
  };
  f.block();
  for (let i = 0; i < cases; i++) f.block();
  f.get(l.op).brTable(
    Array.from({ length: cases }, (_, i) => i),
    cases,
  );
  EW_OPCODES.forEach((name, i) => {
    f.end();
    if (name === "input") l.operand();
    else if (name === "const") {
      // filled once per task
    } else if (name === "where") {
      regAddr(1, l.pc);
      regAddr(2, l.pa);
      regAddr(3, l.pb);
      // loads are a, b, c = x, y, cond (pc holds the condition)
      loop(3, () => f.get(l.regs.a).get(l.regs.b).get(l.regs.c).f32x4Const(0).op("f32x4.ne").op("v128.bitselect"), 4);
    } else if (name === "powi") {
      regAddr(1, l.pa);
      const e = f.local(I32);
      f.get(l.ins).mem("i32.load", 8).set(e);
      loop(1, () => powi(f, l.regs, e));
    } else if ((UNARY_OPS as readonly string[]).includes(name)) {
      regAddr(1, l.pa);
      loop(1, () => UNARY_CODE[name as UnaryOp](f, l.regs), UNROLL[name] ?? (CHEAP.has(name) ? 4 : 1));
    } else {
      regAddr(1, l.pa);
      regAddr(2, l.pb);
      loop(2, () => BINARY_CODE[name as BinaryOp](f, l.regs), CHEAP.has(name) ? 4 : 1);
    }
    f.br(cases - 1 - i);
  });
  f.end();
}
