// gpu.js kernel sources for the WebGL2 backend that gpujsKernels.ts does not have: whole elementwise
// programs (fused chains, one kernel per output) and the row kernels of softmax's and layer norm's
// backward passes, layer norm itself, and argmax. Same conventions: shapes, strides and offsets
// baked in as literals, one gpu.js thread per output cell; the math follows backends/reference.ts.

import type { Program } from "../../backend.ts";
import {
  at,
  BINARY_BODIES,
  coalesce,
  kernel,
  loops,
  splitLongDims,
  threads,
  UNARY_BODIES,
  unique,
  type KernelSpec,
  type Operand,
} from "../gpujsKernels.ts";

/** A kernel plus the helper functions it needs (gpu.js `functions`). */
export interface ProgramSpec extends KernelSpec {
  readonly functions: readonly string[];
  /** Whether its last argument is SPECIALS (NaN and +Infinity: GLSL has no literal for either). */
  readonly specials: boolean;
}

/** The values behind `specials[0]` and `specials[1]`. */
export const SPECIALS = Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY);

const fnName = (op: string) => `op_${op}`;

/**
 * Ops whose GLSL built-ins are undefined where JavaScript gives NaN or ±Infinity (GLSL's log and
 * sqrt of a negative number give anything): bodies that test first. GLSL has no NaN or Infinity
 * literal, so they take both as arguments, read from the kernel's SPECIALS argument.
 */
/** sin and cos: x = q·π/2 + r with |r| <= π/4 (π/2 in three parts), Cephes' polynomials; GLSL's lose ~1e-4 in SwiftShader. */
const quadrant = (shift: number) => `if (a !== a || a === inf || a === -inf) { return nan; }
  const q = Math.floor(a * 0.6366197723675814 + 0.5);
  const r = ((a - q * 1.5703125) - q * 0.0004837512969970703) - q * 7.549789954891886e-8;
  const k = q + ${shift} - 4 * Math.floor((q + ${shift}) * 0.25);
  const z = r * r;
  const s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  const c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1;
  if (k === 0) { return s; }
  if (k === 1) { return c; }
  if (k === 2) { return -s; }
  return -c;`;

const SPECIAL_BODIES: Partial<Record<string, string>> = {
  log: "if (a !== a || a < 0) { return nan; }\n  if (a === 0) { return -inf; }\n  if (a === inf) { return inf; }\n  return Math.log(a);",
  sqrt: "if (a !== a || a < 0) { return nan; }\n  if (a === inf) { return inf; }\n  return Math.sqrt(a);",
  rsqrt: "if (a !== a || a < 0) { return nan; }\n  if (a === inf) { return 0; }\n  return 1 / Math.sqrt(a);",
  exp: "if (a !== a) { return nan; }\n  return Math.exp(a);",
  sigmoid: "if (a !== a) { return nan; }\n  return 1 / (1 + Math.exp(-a));",
  floor: "if (a !== a) { return nan; }\n  return Math.floor(a);",
  // gpu.js writes Infinity as a large finite literal: compare with the real one.
  geluDerivative: UNARY_BODIES.geluDerivative.replaceAll("Infinity", "inf"),
  sin: quadrant(0),
  cos: quadrant(1),
  // JavaScript's Math.pow: GLSL's pow is undefined for negative bases, zero and infinities.
  pow: `if (b === 0) { return 1; }
  if (a !== a || b !== b) { return nan; }
  const m = Math.abs(a);
  if (b === inf || b === -inf) {
    if (m === 1) { return nan; }
    return (m > 1 && b > 0) || (m < 1 && b < 0) ? inf : 0;
  }
  const whole = Math.floor(b) === b ? 1 : 0;
  const odd = whole === 1 && Math.abs(b) < 16777216 && b - 2 * Math.floor(b * 0.5) !== 0 ? 1 : 0;
  const negative = odd === 1 && (a < 0 || (a === 0 && 1 / a < 0)) ? -1 : 1;
  if (m === 0 || m === inf) {
    return (m === 0 && b < 0) || (m === inf && b > 0) ? negative * inf : negative * 0;
  }
  if (a < 0 && whole === 0) { return nan; }
  return negative * Math.pow(m, b);`,
};

/**
 * Output `output` (a register) of `program` over `shape`: inputs read through their strides, every
 * instruction a `const` of the kernel, ops as helper functions (their bodies are gpujsKernels'),
 * non-finite constants read from the SPECIALS argument (GLSL has no NaN or Infinity literal).
 */
export function programKernel(
  shape: readonly number[],
  inputs: readonly Operand[],
  program: Program,
  output: number,
): ProgramSpec | undefined {
  const l = splitLongDims(
    coalesce(
      shape,
      inputs.map((o) => o.strides),
    ),
  );
  const t = l && threads(l.shape);
  if (!l || !t) return undefined;
  const functions = new Map<string, string>();
  let specials = false;
  const special = (i: 0 | 1) => {
    specials = true;
    return `specials[${i}]`;
  };
  const lines = [...t.prelude];
  program.code.forEach((ins, r) => {
    let e: string;
    switch (ins.op) {
      case "input":
        e = at({ ...inputs[ins.index], strides: l.strides[ins.index] }, t.index);
        break;
      case "const":
        if (Number.isFinite(ins.value)) e = String(ins.value);
        else if (Number.isNaN(ins.value)) e = special(0);
        else e = ins.value > 0 ? special(1) : `-${special(1)}`;
        break;
      case "where":
        e = `(r${ins.cond} !== 0 ? r${ins.x} : r${ins.y})`;
        break;
      default:
        if ("y" in ins && SPECIAL_BODIES[ins.op]) {
          functions.set(ins.op, `function ${fnName(ins.op)}(a, b, nan, inf) {\n  ${SPECIAL_BODIES[ins.op]}\n}`);
          e = `${fnName(ins.op)}(r${ins.x}, r${ins.y}, ${special(0)}, ${special(1)})`;
        } else if ("y" in ins) {
          functions.set(ins.op, `function ${fnName(ins.op)}(a, b) {\n  ${BINARY_BODIES[ins.op]}\n}`);
          e = `${fnName(ins.op)}(r${ins.x}, r${ins.y})`;
        } else if (SPECIAL_BODIES[ins.op]) {
          functions.set(ins.op, `function ${fnName(ins.op)}(a, nan, inf) {\n  ${SPECIAL_BODIES[ins.op]}\n}`);
          e = `${fnName(ins.op)}(r${ins.x}, ${special(0)}, ${special(1)})`;
        } else {
          functions.set(ins.op, `function ${fnName(ins.op)}(a) {\n  ${UNARY_BODIES[ins.op]}\n}`);
          e = `${fnName(ins.op)}(r${ins.x})`;
        }
    }
    lines.push(`const r${r} = ${e};`);
  });
  lines.push(`return r${output};`);
  const params = unique(inputs.map((o) => o.name));
  return {
    source: kernel(specials ? [...params, "specials"] : params, lines),
    output: t.output,
    functions: [...functions.values()],
    specials,
  };
}

/**
 * The leading (row) dims of operands laid over `shape` [..., d], coalesced together; `perRow`
 * operands (mean, rstd) have one element per row, the others a last stride along the row.
 */
function rowLayout(shape: readonly number[], operands: readonly { o: Operand; perRow: boolean }[]) {
  const lead = coalesce(
    shape.slice(0, -1),
    operands.map(({ o, perRow }) => (perRow ? o.strides : o.strides.slice(0, -1))),
  );
  const t = threads(lead.shape);
  return t && { t, strides: lead.strides };
}

/**
 * Per row of x [..., d], into [...rows, 2]: (mean, rstd) for layer norm (two passes), or with `dy`
 * and `w` the backward pass's (mean of g, mean of g·x̂) with g = dy·w and x̂ from mean/rstd.
 */
export function rowStatsKernel(
  shape: readonly number[],
  x: Operand,
  eps: number,
  backward?: { dy: Operand; w: Operand; mean: Operand; rstd: Operand },
): KernelSpec | undefined {
  const d = shape[shape.length - 1];
  const ops = backward
    ? [
        { o: x, perRow: false },
        { o: backward.dy, perRow: false },
        { o: backward.mean, perRow: true },
        { o: backward.rstd, perRow: true },
      ]
    : [{ o: x, perRow: false }];
  const rl = rowLayout(shape, ops);
  const t = rl && threads([...lengths(shape, ops), 2]);
  if (!rl || !t) return undefined;
  const rowIndex = t.index.slice(0, -1);
  const which = t.index[t.index.length - 1];
  const along = (k: number) => {
    const o = ops[k].o;
    return at({ ...o, strides: [...rl.strides[k], o.strides[o.strides.length - 1]] }, [...rowIndex, "j0"]);
  };
  let lines: string[];
  if (!backward) {
    const v = along(0);
    lines = [
      "let s = 0;",
      loops([d], `s += ${v};`),
      `const mu = s / ${d};`,
      `if (${which} === 0) { return mu; }`,
      "let q = 0;",
      loops([d], `const c = ${v} - mu;\n    q += c * c;`),
      `return 1 / Math.sqrt(q / ${d} + ${eps});`,
    ];
  } else {
    const { w, mean, rstd } = backward;
    const wj = at({ ...w, strides: [...rowIndex.map(() => 0), w.strides[0]] }, [...rowIndex, "j0"]);
    lines = [
      `const mu = ${at({ ...mean, strides: rl.strides[2] }, rowIndex)};`,
      `const rs = ${at({ ...rstd, strides: rl.strides[3] }, rowIndex)};`,
      "let sg = 0;",
      "let sgx = 0;",
      loops([d], `const g = ${along(1)} * ${wj};\n    sg += g;\n    sgx += g * (${along(0)} - mu) * rs;`),
      `return ${which} === 0 ? sg / ${d} : sgx / ${d};`,
    ];
  }
  const names = backward ? [x, backward.dy, backward.w, backward.mean, backward.rstd].map((o) => o.name) : [x.name];
  return { source: kernel(unique(names), [...t.prelude, ...lines]), output: t.output };
}

/** The coalesced row dims of `rowLayout` (the thread grid before the trailing 2 of the stats). */
function lengths(shape: readonly number[], operands: readonly { o: Operand; perRow: boolean }[]): number[] {
  return coalesce(
    shape.slice(0, -1),
    operands.map(({ o, perRow }) => (perRow ? o.strides : o.strides.slice(0, -1))),
  ).shape;
}

/** Σ over rows of dy·(x − μ)·r (dweight) or of dy (dbias), one thread per column. */
export function columnSumKernel(
  shape: readonly number[],
  dy: Operand,
  x: Operand,
  mean: Operand,
  rstd: Operand,
  which: "dweight" | "dbias",
): KernelSpec | undefined {
  const d = shape[shape.length - 1];
  const lead = shape.slice(0, -1);
  const t = threads([d]);
  if (!t) return undefined;
  const rows = lead.map((_, k) => `j${k}`);
  const col = t.index[0];
  const at2 = (o: Operand, perRow: boolean) =>
    at({ ...o, strides: perRow ? [...o.strides] : [...o.strides.slice(0, -1), o.strides[o.strides.length - 1]] }, [
      ...rows,
      ...(perRow ? [] : [col]),
    ]);
  const term =
    which === "dbias"
      ? `${at2(dy, false)}`
      : `${at2(dy, false)} * (${at2(x, false)} - ${at2(mean, true)}) * ${at2(rstd, true)}`;
  const names = which === "dbias" ? [dy.name] : [dy.name, x.name, mean.name, rstd.name];
  return {
    source: kernel(unique(names), [...t.prelude, "let acc = 0;", loops(lead, `acc += ${term};`), "return acc;"]),
    output: t.output,
  };
}

/** Per row of y [..., d]: Σ dy·y (softmax's backward pass then maps y·(dy − Σ)). */
export function rowDotKernel(shape: readonly number[], y: Operand, dy: Operand): KernelSpec | undefined {
  const ops = [
    { o: y, perRow: false },
    { o: dy, perRow: false },
  ];
  const rl = rowLayout(shape, ops);
  if (!rl) return undefined;
  const { t } = rl;
  const last = (o: Operand) => o.strides[o.strides.length - 1];
  const yj = at({ ...y, strides: [...rl.strides[0], last(y)] }, [...t.index, "j0"]);
  const gj = at({ ...dy, strides: [...rl.strides[1], last(dy)] }, [...t.index, "j0"]);
  return {
    source: kernel(unique([y.name, dy.name]), [
      ...t.prelude,
      "let s = 0;",
      loops([shape[shape.length - 1]], `s += ${gj} * ${yj};`),
      "return s;",
    ]),
    output: t.output,
  };
}

/** Index of the largest value along `axis` (the first on ties; the first NaN if any). */
export function argmaxKernel(shape: readonly number[], x: Operand, axis: number): KernelSpec | undefined {
  const keep = shape.map((_, d) => d).filter((d) => d !== axis);
  const t = threads(keep.map((d) => shape[d]));
  if (!t) return undefined;
  const cell = (k: string) =>
    at({ ...x, strides: [...keep.map((d) => x.strides[d]), x.strides[axis]] }, [...t.index, k]);
  return {
    source: kernel(
      [x.name],
      [
        ...t.prelude,
        "let best = 0;",
        `let b = ${cell("0")};`,
        `for (let j0 = 1; j0 < ${shape[axis]}; j0++) {\n    if (b !== b) { break; }\n    const v = ${cell("j0")};\n    if (v > b || v !== v) { best = j0; b = v; }\n  }`,
        "return best;",
      ],
    ),
    output: t.output,
  };
}
