// Kernel sources for the gpu.js backend: each op becomes the JavaScript source of one gpu.js kernel
// with its shapes, strides and offsets baked in as literals; the math follows backends/reference.ts.
//
// gpu.js's webasm backend keeps thread ids and every local variable in float32 (exact only below
// 2^24), while integer expressions inside one subscript stay i32. So the generated code keeps each
// thread axis under 2^23, splits the outer axes out of thread.z with float division (exact there),
// and writes every flat offset out in full inside the subscript, as `(i | 0) * stride` terms.

import type { BinaryOp, ReduceOp, UnaryOp } from "../backend.ts";

/** Largest extent of one gpu.js thread axis: float32 ids and their quotients stay exact below it. */
export const MAX_THREAD_AXIS = 2 ** 23;

/** One input as a kernel reads it: the argument's name, a stride per dim and the base offset into it. */
export interface Operand {
  readonly name: string;
  readonly strides: readonly number[];
  readonly base: number;
}

/** A kernel to compile: its source and gpu.js output size [x, y?, z?]; cells come back row-major. */
export interface KernelSpec {
  readonly source: string;
  readonly output: readonly number[];
}

// ---- Per-element math: kernel-body fragments on the loaded values a, b (JavaScript semantics) ----

/** tanh on |a|: a Taylor series below 0.25 (where 1 - e cancels), else (1 - e)/(1 + e), e = exp(-2|a|) (no overflow). */
const TANH = `const u = Math.abs(a);
  const s = u * u;
  const e = Math.exp(-2 * u);
  const t = u < 0.25 ? u * (1 + s * (-0.3333333333 + s * (0.1333333333 + s * (-0.05396825397 + s * 0.02186948854)))) : (1 - e) / (1 + e);
  return a > 0 ? t : (a < 0 ? -t : a);`;

/** erf on |a|: Taylor series below 0.5 (good relative accuracy near 0), else Abramowitz–Stegun 7.1.26 (1.5e-7 absolute). */
const ERF = `const u = Math.abs(a);
  const s = u * u;
  const small = 1.128379167 * u * (1 + s * (-0.3333333333 + s * (0.1 + s * (-0.02380952381 + s * (0.00462962963 - s * 0.0007575757576)))));
  const t = 1 / (1 + 0.3275911 * u);
  const large = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-s);
  const r = u < 0.5 ? small : large;
  return a > 0 ? r : (a < 0 ? -r : a);`;

/**
 * Φ(a), the standard normal CDF, into \`cdf\`: from erfc (Numerical Recipes' erfcc, fractional
 * error below 1.2e-7 everywhere), so the far tails keep their relative accuracy.
 */
const PHI = `const z = Math.abs(a) * 0.7071067811865476;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  const cdf = a < 0 ? 0.5 * erfc : 1 - 0.5 * erfc;`;

/** x·Φ(x). */
const GELU = `${PHI}
  return a !== a ? a : a * cdf;`;

/** Φ(x) + x·φ(x). */
const GELU_DERIVATIVE = `${PHI}
  if (a === Infinity) return 1;
  if (a === -Infinity) return 0;
  return a !== a ? a : cdf + a * 0.3989422804014327 * Math.exp(-0.5 * a * a);`;

/** JavaScript's pow. GLSL's pow is undefined for negative bases: integer powers of those go through |a|, odd ones negated. */
const POW = `if (a < 0 && Math.floor(b) === b) {
    const m = Math.pow(-a, b);
    return Math.floor(b / 2) * 2 === b ? m : -m;
  }
  return Math.pow(a, b);`;

export const UNARY_BODIES: { [P in UnaryOp]: string } = {
  identity: "return a;",
  gelu: GELU,
  geluDerivative: GELU_DERIVATIVE,
  neg: "return -a;",
  exp: "return Math.exp(a);",
  log: "return Math.log(a);",
  sqrt: "return Math.sqrt(a);",
  rsqrt: "return 1 / Math.sqrt(a);",
  abs: "return Math.abs(a);",
  tanh: TANH,
  erf: ERF,
  sigmoid: "return 1 / (1 + Math.exp(-a));",
  relu: "return a > 0 ? a : (a === a ? 0 : a);",
  sin: "return Math.sin(a);",
  cos: "return Math.cos(a);",
  sign: "return a > 0 ? 1 : (a < 0 ? -1 : a);",
  floor: "return Math.floor(a);",
};

// NaN tests are spelled x !== x; a + b is the NaN that maximum/minimum propagate.
export const BINARY_BODIES: { [P in BinaryOp]: string } = {
  add: "return a + b;",
  sub: "return a - b;",
  mul: "return a * b;",
  div: "return a / b;",
  pow: POW,
  maximum: "return a !== a || b !== b ? a + b : (a > b ? a : b);",
  minimum: "return a !== a || b !== b ? a + b : (a < b ? a : b);",
  eq: "return a === b ? 1 : 0;",
  ne: "return a !== b ? 1 : 0;",
  lt: "return a < b ? 1 : 0;",
  le: "return a <= b ? 1 : 0;",
  gt: "return a > b ? 1 : 0;",
  ge: "return a >= b ? 1 : 0;",
};

export const WHERE_BODY = "return c !== 0 ? a : b;";

// ---- Index arithmetic ----

export interface Layout {
  shape: number[];
  strides: number[][];
}

/** Drops size-1 dims and merges neighbours that every operand walks contiguously (fewer index terms). */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Layout {
  const out: Layout = { shape: [], strides: strides.map(() => []) };
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = out.shape.length - 1;
    if (last >= 0 && strides.every((s, k) => out.strides[k][last] === s[d] * shape[d])) {
      out.shape[last] *= shape[d];
      strides.forEach((s, k) => (out.strides[k][last] = s[d]));
    } else {
      out.shape.push(shape[d]);
      strides.forEach((s, k) => out.strides[k].push(s[d]));
    }
  }
  return out;
}

/** Splits any dim over MAX_THREAD_AXIS into two exact factors; undefined when a dim has none (a huge prime). */
export function splitLongDims(l: Layout): Layout | undefined {
  const out: Layout = { shape: [], strides: l.strides.map(() => []) };
  for (let d = 0; d < l.shape.length; d++) {
    const n = l.shape[d];
    if (n <= MAX_THREAD_AXIS) {
      out.shape.push(n);
      l.strides.forEach((s, k) => out.strides[k].push(s[d]));
      continue;
    }
    let outer = Math.ceil(n / MAX_THREAD_AXIS);
    while (outer <= MAX_THREAD_AXIS && n % outer !== 0) outer++;
    if (outer > MAX_THREAD_AXIS) return undefined;
    out.shape.push(outer, n / outer);
    l.strides.forEach((s, k) => out.strides[k].push(s[d] * (n / outer), s[d]));
  }
  return out;
}

/** How output cells map to gpu.js threads: the last dim is thread.x, the one before thread.y, the rest fold into thread.z. */
export interface Threads {
  output: number[];
  prelude: string[];
  /** One index expression per dim (a float32 integer below MAX_THREAD_AXIS). */
  index: string[];
}

export function threads(shape: readonly number[]): Threads | undefined {
  const r = shape.length;
  if (r === 0) return { output: [1], prelude: [], index: [] };
  if (r === 1) return { output: [shape[0]], prelude: [], index: ["this.thread.x"] };
  if (r === 2) return { output: [shape[1], shape[0]], prelude: [], index: ["this.thread.y", "this.thread.x"] };
  const outer = shape.slice(0, r - 2);
  const z = outer.reduce((p, d) => p * d, 1);
  if (z > MAX_THREAD_AXIS) return undefined;
  // thread.z = Σ i_k · (product of the outer dims after k): peel off one outer index at a time.
  const prelude = ["const z0 = this.thread.z;"];
  const index: string[] = [];
  let rest = z;
  for (let k = 0; k < outer.length - 1; k++) {
    rest /= outer[k];
    prelude.push(`const i${k} = Math.floor(z${k} / ${rest});`, `const z${k + 1} = z${k} - i${k} * ${rest};`);
    index.push(`i${k}`);
  }
  index.push(`z${outer.length - 1}`, "this.thread.y", "this.thread.x");
  return { output: [shape[r - 1], shape[r - 2], z], prelude, index };
}

/** `(i | 0) * s` terms of a flat offset (integer arithmetic inside the subscript), zero strides left out. */
function terms(index: readonly string[], strides: readonly number[]): string {
  let e = "";
  strides.forEach((s, d) => {
    if (s !== 0) e += `${s > 0 ? " + " : " - "}(${index[d]} | 0) * ${Math.abs(s)}`;
  });
  return e;
}

/** operand[base + Σ index·stride] as source. */
export function at(o: Operand, index: readonly string[], extra = ""): string {
  const sum = `${terms(index, o.strides)}${extra}`.replace(/^ \+ /, "");
  return `${o.name}[${sum === "" ? o.base : o.base === 0 ? sum : `${sum} + ${o.base}`}]`;
}

export const kernel = (params: readonly string[], lines: readonly string[]) =>
  `function(${params.join(", ")}) {\n  ${lines.join("\n  ")}\n}`;

export const unique = (names: readonly string[]) => [...new Set(names)];

// ---- The kernels ----

/** An operand loaded into a named value before the body runs. */
export interface Read extends Operand {
  readonly as: string;
}

/** out[i] = body(reads at i) over `shape` (all reads strided over the same shape; broadcast = stride 0). */
export function mapKernel(shape: readonly number[], reads: readonly Read[], body: string): KernelSpec | undefined {
  const l = splitLongDims(
    coalesce(
      shape,
      reads.map((r) => r.strides),
    ),
  );
  const t = l && threads(l.shape);
  if (!l || !t) return undefined;
  const loads = reads.map((r, k) => `const ${r.as} = ${at({ ...r, strides: l.strides[k] }, t.index)};`);
  return { source: kernel(unique(reads.map((r) => r.name)), [...t.prelude, ...loads, body]), output: t.output };
}

/** Nested loops j0, j1, … over the reduced dims (loop counters are i32 in gpu.js: no float limit). */
export function loops(shape: readonly number[], inner: string): string {
  let s = inner;
  for (let k = shape.length - 1; k >= 0; k--) s = `for (let j${k} = 0; j${k} < ${shape[k]}; j${k}++) {\n    ${s}\n  }`;
  return s;
}

/** Reduces x (strided over `shape`) over `axes`; one thread per kept cell loops over the reduced ones. */
export function reduceKernel(
  op: ReduceOp,
  shape: readonly number[],
  x: Operand,
  axes: readonly number[],
): KernelSpec | undefined {
  const keptDims = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const kept = splitLongDims(
    coalesce(
      keptDims.map((d) => shape[d]),
      [keptDims.map((d) => x.strides[d])],
    ),
  );
  const t = kept && threads(kept.shape);
  if (!kept || !t) return undefined;
  const red = coalesce(
    axes.map((d) => shape[d]),
    [axes.map((d) => x.strides[d])],
  );
  const cell = { ...x, strides: kept.strides[0] };
  const v = at({ ...x, strides: [...kept.strides[0], ...red.strides[0]] }, [
    ...t.index,
    ...red.shape.map((_, k) => `j${k}`),
  ]);
  // max/min start from the cell's first element and keep a NaN once seen (v !== v), as the reference does.
  const body =
    op === "sum"
      ? ["let acc = 0;", loops(red.shape, `acc += ${v};`)]
      : [
          `let acc = ${at(cell, t.index)};`,
          loops(red.shape, `const v = ${v};\n    if (v ${op === "max" ? ">" : "<"} acc || v !== v) { acc = v; }`),
        ];
  return { source: kernel([x.name], [...t.prelude, ...body, "return acc;"]), output: t.output };
}

/** [...batch, m, k] @ [...batch, k, n]: one thread per output cell, a dot product over k. */
export function matmulKernel(
  batch: readonly number[],
  [m, k, n]: readonly [number, number, number],
  a: Operand,
  b: Operand,
): KernelSpec | undefined {
  const r = batch.length;
  const bl = coalesce(batch, [a.strides.slice(0, r), b.strides.slice(0, r)]);
  const t = m <= MAX_THREAD_AXIS && n <= MAX_THREAD_AXIS ? threads([...bl.shape, m, n]) : undefined;
  if (!t) return undefined;
  const index = [...t.index, "p"];
  // Dims of the index: [...batch, i, j, p]; a ignores j, b ignores i.
  const aAt = at({ ...a, strides: [...bl.strides[0], a.strides[r], 0, a.strides[r + 1]] }, index);
  const bAt = at({ ...b, strides: [...bl.strides[1], 0, b.strides[r + 1], b.strides[r]] }, index);
  const body = ["let acc = 0;", `for (let p = 0; p < ${k}; p++) {\n    acc += ${aAt} * ${bAt};\n  }`, "return acc;"];
  return { source: kernel(unique([a.name, b.name]), [...t.prelude, ...body]), output: t.output };
}

/** out = x[..., index[...], ...] along `axis` over index's shape; `x.strides[axis]` is applied to the index value. */
export function gatherKernel(
  shape: readonly number[],
  x: Operand,
  index: Operand,
  axis: number,
): KernelSpec | undefined {
  const walk = x.strides.map((s, d) => (d === axis ? 0 : s));
  const l = splitLongDims(coalesce(shape, [walk, index.strides]));
  const t = l && threads(l.shape);
  if (!l || !t) return undefined;
  const s = x.strides[axis];
  const pick = s === 0 ? "" : ` ${s > 0 ? "+" : "-"} (k | 0) * ${Math.abs(s)}`;
  const lines = [
    `const k = ${at({ ...index, strides: l.strides[1] }, t.index)};`,
    `return ${at({ ...x, strides: l.strides[0] }, t.index, pick)};`,
  ];
  return { source: kernel(unique([x.name, index.name]), [...t.prelude, ...lines]), output: t.output };
}

/**
 * Softmax along `axis` in two kernels: per row the max and Σ exp(x - max) (output [...rows, 2]), then
 * exp(x - max) / Σ per element: the same operations as the composed softmax in ops/activations.ts.
 */
export function softmaxKernels(
  shape: readonly number[],
  x: Operand,
  axis: number,
  stats: string,
): { stats: KernelSpec; normalize: KernelSpec } | undefined {
  const rowDims = shape.map((_, d) => d).filter((d) => d !== axis);
  const rows = splitLongDims(
    coalesce(
      rowDims.map((d) => shape[d]),
      [rowDims.map((d) => x.strides[d])],
    ),
  );
  const t = rows && threads([...rows.shape, 2]);
  if (!rows || !t) return undefined;
  const row = { ...x, strides: rows.strides[0] };
  const v = at({ ...x, strides: [...rows.strides[0], 0, x.strides[axis]] }, [...t.index, "j0"]);
  const which = t.index[t.index.length - 1];
  const lines = [
    `let m = ${at(row, t.index)};`,
    // no NaN test in this max: a NaN anywhere in the row makes Σ exp(x - m) NaN all the same
    loops([shape[axis]], `const v = ${v};\n    if (v > m) { m = v; }`),
    `if (${which} === 0) { return m; }`,
    "let s = 0;",
    loops([shape[axis]], `s += Math.exp(${v} - m);`),
    "return s;",
  ];
  // Stats are contiguous [...rows, 2]: walk them at stride 0 along the axis.
  let acc = 2;
  const statStrides = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    if (d === axis) continue;
    statStrides[d] = acc;
    acc *= shape[d];
  }
  const normalize = mapKernel(
    shape,
    [
      { ...x, as: "a" },
      { name: stats, strides: statStrides, base: 0, as: "m" },
      { name: stats, strides: statStrides, base: 1, as: "s" },
    ],
    "return Math.exp(a - m) / s;",
  );
  if (!normalize) return undefined;
  return { stats: { source: kernel([x.name], [...t.prelude, ...lines]), output: t.output }, normalize };
}
