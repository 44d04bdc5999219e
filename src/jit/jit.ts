// jit(f): trace a pure function of tensors once per input signature into a graph of the same
// primitives, and run it from a compiled plan (src/jit/plan.ts) — intermediate buffers reused by
// liveness, elementwise chains fused, no decisions left per op. JAX's `jit` is the model.
//
// What is an input and what is baked in: tensor leaves of the arguments (of any pytree of arrays,
// records and Maps) and PRNG keys are inputs — a new value reruns the same plan. Every other leaf
// (numbers, strings, booleans) is static: part of the signature, so a new value compiles a new plan.
// Pass a number that changes every call, such as a learning rate, as a 0-d tensor (`T.scalar(lr)`).
// Tensors captured by closure are constants of the plan.

import { Key } from "../core/prng.ts";
import type { Storage } from "../core/backend.ts";
import { TracedStorage } from "../core/recorder.ts";
import { isTraced } from "../core/tape.ts";
import { consume, Tensor } from "../core/tensor.ts";
import { isRecord, leaves, type Tree } from "../autodiff/pytree.ts";
import { Plan, type PlanMemory } from "./plan.ts";
import { traceFunction } from "./trace.ts";

export interface JitOptions {
  /**
   * Arguments (by index) whose tensors the caller hands over, as JAX's donate_argnums: the plan may
   * write its outputs into their storage (an optimizer updating parameters in place). A donated
   * tensor must not be used after the call; using it is an error.
   */
  donate?: readonly number[];
}

/** A compiled function, plus what its plans cost. */
export type Compiled<F extends (...args: never[]) => unknown> = F & {
  /** Traces and plans for these arguments without running (nothing is donated): what a call will need. */
  lower(...args: Parameters<F>): PlanMemory;
  /** The memory the most recently used plan needs per call. */
  memory(): PlanMemory | undefined;
  /** Kernels launched per call by the most recent plan (after fusion). */
  kernelCount(): number | undefined;
  /** What fills the arena at the most recent plan's peak: bytes and value count per op, largest first. */
  peakBreakdown(): { op: string; bytes: number; count: number }[];
  /** How many signatures were traced (each compiles a plan). */
  readonly traces: number;
};

interface Compiled1 {
  plan: Plan;
  /** The traced result: its tensor leaves say each output's layout; other leaves are returned as they are. */
  out: unknown;
  templates: Tensor[];
}

/** Whether jit runs functions eagerly instead (VITMAE_DISABLE_JIT=1: for debugging; same numbers). */
const disabled = typeof process !== "undefined" && process.env?.VITMAE_DISABLE_JIT === "1";

export function jit<F extends (...args: never[]) => unknown>(f: F, opts: JitOptions = {}): Compiled<F> {
  const donate = new Set(opts.donate ?? []);
  const cache = new Map<string, Compiled1>();
  let last: Compiled1 | undefined;
  const planFor = (args: Tree[], flat: Flat): Compiled1 => {
    let entry = cache.get(flat.signature);
    if (!entry) {
      entry = compile(f as unknown as (...a: Tree[]) => unknown, args, flat);
      cache.set(flat.signature, entry);
      (compiled as { traces: number }).traces++;
    }
    last = entry;
    return entry;
  };
  const compiled = ((...args: Tree[]) => {
    if (disabled) return (f as unknown as (...a: Tree[]) => unknown)(...args);
    const flat = flatten(args, donate);
    const entry = planFor(args, flat);
    const storages = entry.plan.run(
      flat.tensors.map((t) => t.storage),
      flat.keys,
    );
    flat.tensors.forEach((t, i) => flat.donated.has(i) && consume(t));
    let at = 0;
    return rebuild(entry.out, () => {
      const template = entry.templates[at];
      return new Tensor(storages[at++], template.shape, template.strides, template.offset);
    });
  }) as unknown as Compiled<F>;
  Object.assign(compiled, {
    lower: (...args: Tree[]) => planFor(args, flatten(args, donate)).plan.memory,
    memory: () => last?.plan.memory,
    kernelCount: () => last?.plan.kernelCount,
    peakBreakdown: () => {
      const byOp = new Map<string, { op: string; bytes: number; count: number }>();
      for (const v of last?.plan.peak.values ?? []) {
        const e = byOp.get(v.op) ?? { op: v.op, bytes: 0, count: 0 };
        e.bytes += v.elements * 4;
        e.count++;
        byOp.set(v.op, e);
      }
      return [...byOp.values()].sort((a, b) => b.bytes - a.bytes);
    },
    traces: 0,
  });
  return compiled;
}

// ---- Arguments: the dynamic leaves and the signature ----

interface Flat {
  signature: string;
  tensors: Tensor[];
  keys: Key[];
  /** Indices (into tensors) whose storage the plan may write. */
  donated: Set<number>;
}

function flatten(args: readonly unknown[], donate: ReadonlySet<number>): Flat {
  const flat: Flat = { signature: "", tensors: [], keys: [], donated: new Set() };
  const parts: string[] = [];
  const owners: number[] = [];
  const walk = (t: unknown, path: string, arg: number): void => {
    if (t instanceof Tensor) {
      if (t.storage instanceof TracedStorage)
        throw new TypeError(`jit: argument ${path} is itself being traced (nest jit by calling f directly)`);
      if (isTraced(t)) {
        throw new TypeError(
          `jit: argument ${path} is being differentiated; put grad inside the jit-compiled function, not around it`,
        );
      }
      owners.push(arg);
      flat.tensors.push(t);
      parts.push(
        `T${t.shape.join("x")}/${t.strides.join(",")}+${t.offset}#${t.storage.size}:${t.dtype}@${t.backend.name}`,
      );
    } else if (t instanceof Key) {
      flat.keys.push(t);
      parts.push("K");
    } else if (Array.isArray(t)) {
      parts.push(`[${t.length}`);
      t.forEach((v, i) => walk(v, `${path}[${i}]`, arg));
      parts.push("]");
    } else if (t instanceof Map) {
      parts.push(`M${t.size}`);
      for (const [k, v] of t) {
        parts.push(JSON.stringify(k));
        walk(v, `${path}[${String(k)}]`, arg);
      }
      parts.push(";");
    } else if (isRecord(t)) {
      parts.push("{");
      for (const [k, v] of Object.entries(t)) {
        parts.push(JSON.stringify(k));
        walk(v, `${path}.${k}`, arg);
      }
      parts.push("}");
    } else if (t === undefined || t === null || ["number", "string", "boolean"].includes(typeof t)) {
      parts.push(t === undefined ? "u" : JSON.stringify(t));
    } else {
      throw new TypeError(
        `jit: argument ${path} is a ${(t as object).constructor?.name ?? typeof t}; pass tensors, keys, numbers, strings, booleans, arrays, records or Maps`,
      );
    }
  };
  args.forEach((a, i) => walk(a, `#${i}`, i));
  // A donated tensor sharing storage with another argument is not written (the other still reads it).
  const users = new Map<Storage, number>();
  for (const t of flat.tensors) users.set(t.storage, (users.get(t.storage) ?? 0) + 1);
  flat.tensors.forEach((t, i) => {
    if (donate.has(owners[i]) && users.get(t.storage) === 1 && t.offset === 0 && t.size === t.storage.size)
      flat.donated.add(i);
  });
  flat.signature = `${parts.join(" ")}|donated:${[...flat.donated].join(",")}`;
  return flat;
}

/** Traces f on placeholders of `args` and compiles the plan. */
function compile(f: (...a: Tree[]) => unknown, args: readonly unknown[], flat: Flat): Compiled1 {
  const placeholders: Tensor[] = [];
  const [out, trace] = traceFunction(({ tensor, key }) => {
    let keyIndex = 0;
    const replace = (t: unknown): unknown => {
      if (t instanceof Tensor) {
        const p = tensor(t);
        placeholders.push(p);
        return p;
      }
      if (t instanceof Key) return key(keyIndex++);
      if (Array.isArray(t)) return t.map(replace);
      if (t instanceof Map) return new Map([...t].map(([k, v]) => [k, replace(v)]));
      if (isRecord(t)) return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, replace(v)]));
      return t;
    };
    return f(...(args.map(replace) as Tree[]));
  });
  checkOutput(out);
  const outputs = outputTensors(out).map((t) => (t.storage instanceof TracedStorage ? t.storage.id : t.storage));
  const plan = new Plan(trace, {
    arguments: placeholders.map((p) => (p.storage as TracedStorage).id),
    donated: flat.donated,
    outputs,
  });
  return { plan, out, templates: outputTensors(out) };
}

function checkOutput(out: unknown, path = "result"): void {
  if (out instanceof Key) {
    if (out.placeholder !== undefined)
      throw new TypeError(`jit: ${path} is a key derived inside; return keys from outside or derive them again`);
  } else if (Array.isArray(out)) out.forEach((v, i) => checkOutput(v, `${path}[${i}]`));
  else if (out instanceof Map) out.forEach((v, k) => checkOutput(v, `${path}[${String(k)}]`));
  else if (isRecord(out)) Object.entries(out).forEach(([k, v]) => checkOutput(v, `${path}.${k}`));
}

const outputTensors = (out: unknown): Tensor[] => leaves(out as Tree);

/** The traced result's structure with each tensor leaf replaced by `next()`. */
function rebuild(out: unknown, next: () => Tensor): unknown {
  if (out instanceof Tensor) return next();
  if (Array.isArray(out)) return out.map((v) => rebuild(v, next));
  if (out instanceof Map) return new Map([...out].map(([k, v]) => [k, rebuild(v, next)]));
  if (isRecord(out)) return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, rebuild(v, next)]));
  return out;
}
