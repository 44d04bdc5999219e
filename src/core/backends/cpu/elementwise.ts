// The cpu backend's elementwise kernel: encodes a Program once (cached per Program object) as
// bytecode for the wasm block interpreter (wasm/elementwiseKernel.ts), then per call coalesces the
// iteration shape over all operands, writes the call descriptor and runs element ranges on the pool.
import type { Program, View } from "../../backend.ts";
import { EW, EW_OPCODES, EW_SLOT_BYTES, type EwOpcode, KIND, slotStride } from "../../wasm/elementwiseKernel.ts";
import { CALL_AT, cpuThreads, queueTask, runQueue, runtime, SCRATCH_AT } from "../../wasm/runtime.ts";
import { runProgram } from "../hostKernels.ts";
import { hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";

/** A program as the interpreter runs it. */
interface Encoded {
  /** [opcode, x, y, z, slot] per instruction. */
  code: Int32Array;
  /** Floats per block. */
  block: number;
  /** Relative work per element, for the single-thread cut-over. */
  cost: number;
}

const cache = new WeakMap<Program, Encoded | null>();
const OPCODE = new Map<string, number>(EW_OPCODES.map((op, i) => [op, i]));
/** Relative cost per element of the ops that are not a few SIMD instructions (the rest cost 1). */
const HEAVY: Record<string, number> = {
  exp: 10,
  log: 10,
  tanh: 12,
  sigmoid: 10,
  erf: 24,
  gelu: 20,
  geluDerivative: 20,
  sin: 30,
  cos: 30,
  pow: 30,
};
const f32bits = new Int32Array(1);
const f32view = new Float32Array(f32bits.buffer);

/** The interpreter's form of `program`, or null when it is too long for it (the reference loops run it). */
function encode(program: Program, inputs: number): Encoded | null {
  const cached = cache.get(program);
  if (cached !== undefined) return cached;
  const { code, outputs } = program;
  const n = code.length;
  if (n > EW.MAX_CODE || outputs.length > EW.MAX_OUTPUTS || inputs + outputs.length > EW.MAX_OPERANDS) {
    cache.set(program, null);
    return null;
  }
  const out = new Int32Array(n * EW.INSTR_INTS);
  const lastUse = new Int32Array(n).fill(-1);
  const reg = (r: number, i: number) => {
    if (!(Number.isInteger(r) && r >= 0 && r < i))
      throw new Error(`elementwise: instruction ${i} reads register ${r}, which is not an earlier instruction`);
    lastUse[r] = i;
    return r;
  };
  let cost = 0;
  code.forEach((ins, i) => {
    const at = i * EW.INSTR_INTS;
    let op: EwOpcode = ins.op;
    const row = [0, 0, 0];
    switch (ins.op) {
      case "input":
        if (!(Number.isInteger(ins.index) && ins.index >= 0 && ins.index < inputs))
          throw new Error(`elementwise: instruction ${i} reads input ${ins.index} of ${inputs}`);
        row[0] = ins.index;
        break;
      case "const":
        f32view[0] = ins.value;
        row[0] = f32bits[0];
        break;
      case "where":
        row[0] = reg(ins.cond, i);
        row[1] = reg(ins.x, i);
        row[2] = reg(ins.y, i);
        cost += 1;
        break;
      default:
        if ("y" in ins) {
          row[0] = reg(ins.x, i);
          row[1] = reg(ins.y, i);
          const y = code[ins.y];
          if (ins.op === "pow" && y.op === "const" && Number.isInteger(y.value) && Math.abs(y.value) <= 64) {
            op = "powi";
            row[1] = y.value;
          }
        } else row[0] = reg(ins.x, i);
        cost += HEAVY[op] ?? 1;
    }
    out[at] = OPCODE.get(op)!;
    out.set(row, at + 1);
  });
  for (const r of outputs) {
    if (!(Number.isInteger(r) && r >= 0 && r < n)) throw new Error(`elementwise: output register ${r} of ${n}`);
    lastUse[r] = n; // live to the end
  }
  // Slots by liveness (linear scan). Inputs and constants keep theirs (filled once per task); an
  // instruction may take the slot of an operand that dies at it (the loops read before they write).
  const free: number[] = [];
  let slots = 0;
  for (let i = 0; i < n; i++) {
    const ins = code[i];
    if (ins.op !== "input" && ins.op !== "const") {
      for (const r of operandsOf(ins)) {
        if (lastUse[r] === i && code[r].op !== "input" && code[r].op !== "const") {
          free.push(out[r * EW.INSTR_INTS + 4]);
          lastUse[r] = -2; // freed once, even if read twice here
        }
      }
    }
    out[i * EW.INSTR_INTS + 4] = free.length > 0 && ins.op !== "input" && ins.op !== "const" ? free.pop()! : slots++;
  }
  let block = 1024;
  while (block > 16 && (slots * slotStride(block) > EW_SLOT_BYTES || slots * block > 8192)) block /= 2;
  if (slots * slotStride(block) > EW_SLOT_BYTES) {
    cache.set(program, null);
    return null;
  }
  const encoded = { code: out, block, cost: cost + 1 };
  cache.set(program, encoded);
  return encoded;
}

function operandsOf(ins: Program["code"][number]): number[] {
  if (ins.op === "where") return [ins.cond, ins.x, ins.y];
  if ("y" in ins) return [ins.x, ins.y];
  if ("x" in ins) return [ins.x];
  return [];
}

/**
 * The cut-over to the pool, measured by bench/kernels.ts (2 shared cores, 2026-11-30, µs one thread /
 * two, two runs agreeing): exp 22/22 and 24/22 at 8K elements, 42/34 and 45/37 at 16K; gelu 31/21
 * and 37/25 at 4K; add 78/90 and 74/90 at 256K, 151/122 and 154/109 at 512K (cheap ops are bound by
 * memory bandwidth, which a second thread barely adds to here). So a
 * program goes to the pool when elements × cost reach 2^17, and a cheap one (cost < 8) only from
 * 2^19 elements.
 */
const DEFAULT_MIN_WORK = 1 << 17;
const CHEAP_MIN_ELEMENTS = 1 << 19;
let parallelMinWork = DEFAULT_MIN_WORK;

/** Sets the cut-over (tests set 0 to run even tiny programs on the pool); no argument restores it. */
export function setElementwiseParallelThreshold(work = DEFAULT_MIN_WORK): void {
  parallelMinWork = work;
}

// Reused per call: the coalesced shape and each operand's strides (no allocation per call).
const MAX_OPERANDS = EW.MAX_OPERANDS;
const dims = new Float64Array(32);
const cshape = new Float64Array(EW.MAX_RANK);
const strides = new Float64Array(MAX_OPERANDS * 32);
const views: View[] = [];

export function elementwise(
  program: Program,
  inputs: readonly View[],
  shape: readonly number[],
  outputs: readonly View[],
): void {
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  const enc = encode(program, inputs.length);
  views.length = 0;
  for (const v of inputs) views.push(v);
  for (const v of outputs) views.push(v);
  let resident = enc !== null && shape.length <= 32;
  for (const v of views) if (!(v.storage instanceof WasmStorage)) resident = false;
  const rank = resident ? coalesce(shape, views.length) : -1;
  if (!resident || rank > EW.MAX_RANK) {
    runProgram(program, inputs.map(hostView), shape, outputs.map(hostView));
    return;
  }
  const rt = runtime();
  const I = rt.i32;
  const d = CALL_AT / 4;
  const e = enc!;
  I[d + EW.RANK] = rank;
  I[d + EW.CODE] = e.code.length / EW.INSTR_INTS;
  I[d + EW.BLOCK] = e.block;
  I[d + EW.OUTPUTS] = outputs.length;
  for (let k = 0; k < rank; k++) I[d + EW.SHAPE + k] = cshape[k];
  for (let o = 0; o < views.length; o++) {
    const at = d + EW.OPERANDS + o * EW.OPERAND_INTS;
    const v = views[o];
    let contiguous = true;
    let splat = true;
    let expected = 1;
    for (let k = rank - 1; k >= 0; k--) {
      const s = strides[o * 32 + k];
      if (s !== expected) contiguous = false;
      if (s !== 0) splat = false;
      expected *= cshape[k];
      I[at + 2 + k] = 4 * s;
    }
    I[at] = contiguous ? KIND.contiguous : splat && o < inputs.length ? KIND.splat : KIND.strided;
    I[at + 1] = 4 * (baseIndex(v.storage as WasmStorage) + v.offset);
  }
  I.set(e.code, d + EW.INSTR);
  for (let j = 0; j < outputs.length; j++) {
    I[d + EW.OUTS + 2 * j] = program.outputs[j];
    I[d + EW.OUTS + 2 * j + 1] = inputs.length + j;
  }
  const cheapAndSmall = e.cost < 8 && n < CHEAP_MIN_ELEMENTS && parallelMinWork > 0;
  const threads = n * e.cost < parallelMinWork || cheapAndSmall ? 1 : Math.min(cpuThreads(), Math.ceil(n / e.block));
  if (threads === 1) {
    rt.kernels.elementwise(CALL_AT, 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SCRATCH_AT);
    return;
  }
  // A few tasks per thread (claimed dynamically), each a whole number of blocks.
  const tasks = Math.min(4 * threads, Math.ceil(n / e.block));
  const chunk = Math.ceil(n / tasks / e.block) * e.block;
  const fn = rt.kernelIndex.elementwise;
  for (let s = 0; s < n; s += chunk) queueTask(rt, fn, CALL_AT, s, Math.min(n, s + chunk));
  runQueue(rt, threads);
}

/**
 * Merges the dims of `shape` into as few as the operands allow (size-1 dims dropped; adjacent dims
 * merged where every operand steps through them as one), leaving the result in `cshape` and
 * `strides` (operand o's at o*32). Returns the rank (at least 1).
 */
function coalesce(shape: readonly number[], operands: number): number {
  let r = 0;
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1) continue;
    dims[r] = shape[k];
    for (let o = 0; o < operands; o++) strides[o * 32 + r] = views[o].strides[k];
    r++;
  }
  if (r === 0) {
    cshape[0] = 1;
    for (let o = 0; o < operands; o++) strides[o * 32] = 1;
    return 1;
  }
  // Merge from the innermost dim outwards; `top` is the merged dim being grown.
  let top = r - 1;
  let out = r - 1; // write position, moving outwards
  for (let k = r - 2; k >= 0; k--) {
    let mergeable = true;
    for (let o = 0; o < operands && mergeable; o++)
      if (strides[o * 32 + k] !== strides[o * 32 + top] * dims[top]) mergeable = false;
    if (mergeable) {
      dims[top] *= dims[k];
    } else {
      dims[out] = dims[top];
      for (let o = 0; o < operands; o++) strides[o * 32 + out] = strides[o * 32 + top];
      out--;
      top = k;
    }
  }
  dims[out] = dims[top];
  for (let o = 0; o < operands; o++) strides[o * 32 + out] = strides[o * 32 + top];
  const rank = r - out;
  if (rank > EW.MAX_RANK) return rank;
  for (let k = 0; k < rank; k++) {
    cshape[k] = dims[out + k];
    for (let o = 0; o < operands; o++) strides[o * 32 + k] = strides[o * 32 + out + k];
  }
  return rank;
}
