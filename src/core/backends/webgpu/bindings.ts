// How a kernel launch reaches its operands. Every view or target becomes a range of elements in a
// buffer; operands in the same buffer share one binding (a compiled plan keeps its intermediates in
// one arena buffer, so a fused kernel often binds one or two), each binding is a 256-byte aligned
// sub-range (bindings have a size limit; a buffer may be larger), and the shader indexes each
// operand from its binding's start. Shapes, strides and offsets are run-time parameters, so a
// kernel compiles once per structure, not per shape.

import type { Target, View } from "../../backend.ts";
import type { BufferRange, GpuQueue, Kernel } from "./gpuQueue.ts";
import { GpuStorage } from "./gpuQueue.ts";
import { errorDecl } from "./kernelErrors.ts";

/** One operand: its storage and the elements [lo, hi) it may touch. */
export interface Operand {
  readonly storage: GpuStorage;
  readonly lo: number;
  readonly hi: number;
  readonly write: boolean;
}

/** The bindings of one launch: which binding each operand uses, and where that binding starts. */
export interface Bound {
  readonly ranges: BufferRange[];
  readonly writable: boolean[];
  /** Per operand: its binding's index. */
  readonly slot: number[];
  /** Per operand: the element index (in its storage) where its binding starts. */
  readonly start: number[];
}

const ALIGN_ELEMENTS = 64; // 256 bytes: minStorageBufferOffsetAlignment

export function gpuStorage(v: { storage: unknown }, what: string): GpuStorage {
  if (!(v.storage instanceof GpuStorage) || (v.storage.size > 0 && !v.storage.buffer)) {
    const s = v.storage as { backend?: { name?: string } };
    throw new TypeError(
      v.storage instanceof GpuStorage
        ? `webgpu backend: ${what} was freed`
        : `webgpu backend: ${what} lives on backend "${s.backend?.name}", not on the GPU`,
    );
  }
  return v.storage;
}

/** The elements a view may touch: [lo, hi). Empty views touch nothing ([offset, offset)). */
export function viewOperand(v: View, what: string, write = false): Operand {
  const storage = gpuStorage(v, what);
  let lo = v.offset;
  let hi = v.offset;
  let empty = false;
  v.shape.forEach((n, d) => {
    if (n === 0) empty = true;
    const span = (n - 1) * v.strides[d];
    if (span < 0) lo += span;
    else hi += span;
  });
  return empty ? { storage, lo: v.offset, hi: v.offset, write } : { storage, lo, hi: hi + 1, write };
}

export function targetOperand(t: Target, n: number, what: string): Operand {
  return { storage: gpuStorage(t, what), lo: t.offset, hi: t.offset + n, write: true };
}

/**
 * Groups operands into bindings: one per buffer, split only where a buffer's operands span more
 * than a binding may (overlapping operands always share one). Returns undefined when more bindings than `max` would be needed.
 */
export function bindOperands(queue: GpuQueue, operands: readonly Operand[], max: number): Bound | undefined {
  const limit = Math.floor(queue.gpu.limits.maxStorageBufferBindingSize / 4);
  const bound: Bound = { ranges: [], writable: [], slot: [], start: [] };
  const groups: { buffer: GPUBuffer; lo: number; hi: number; write: boolean; members: number[] }[] = [];
  const order = operands.map((_, i) => i).sort((a, b) => operands[a].lo - operands[b].lo);
  for (const i of order) {
    const o = operands[i];
    if (o.hi <= o.lo || !o.storage.buffer) {
      bound.slot[i] = -1; // reads nothing: bound to an empty range below
      continue;
    }
    const lo = Math.floor(o.lo / ALIGN_ELEMENTS) * ALIGN_ELEMENTS;
    const g = groups.find((g) => g.buffer === o.storage.buffer && (lo < g.hi || Math.max(g.hi, o.hi) - g.lo <= limit));
    if (g) {
      g.hi = Math.max(g.hi, o.hi);
      g.write ||= o.write;
      g.members.push(i);
    } else groups.push({ buffer: o.storage.buffer, lo, hi: o.hi, write: o.write, members: [i] });
  }
  // A buffer written in one binding may be bound only as writable storage in the others too
  // (WebGPU's usage rules: read-only and writable uses of one buffer cannot share a dispatch).
  const written = new Set(groups.filter((g) => g.write).map((g) => g.buffer));
  for (const g of groups) {
    g.write ||= written.has(g.buffer);
    if (g.hi - g.lo > limit)
      throw new RangeError(
        `webgpu backend: one kernel reaches ${g.hi - g.lo} elements of one buffer; a binding may hold ${limit}`,
      );
    for (const i of g.members) {
      bound.slot[i] = bound.ranges.length;
      bound.start[i] = g.lo;
    }
    // Bindings end inside the buffer and hold whole 4-byte words.
    bound.ranges.push({ buffer: g.buffer, offset: g.lo * 4, size: Math.min(g.hi * 4, g.buffer.size) - g.lo * 4 });
    bound.writable.push(g.write);
  }
  if (bound.slot.includes(-1)) {
    const empty = bound.ranges.length;
    bound.ranges.push(queue.emptyRange());
    bound.writable.push(false);
    bound.slot.forEach((s, i) => {
      if (s === -1) {
        bound.slot[i] = empty;
        bound.start[i] = 0;
      }
    });
  }
  return bound.ranges.length <= max ? bound : undefined;
}

/** WGSL declarations of a launch's bindings: buf0, buf1, … (binding 0 is the parameters). */
export function bindingDecls(bound: Bound): string {
  return bound.writable
    .map((w, j) => `@group(0) @binding(${j + 1}) var<storage, ${w ? "read_write" : "read"}> buf${j}: array<f32>;`)
    .join("\n");
}

/** A signature of the binding structure (part of a kernel's cache key, through its source). */
export const bindingKey = (bound: Bound): string => `${bound.slot.join(",")}/${bound.writable.map(Number).join("")}`;

/**
 * A kernel's run-time parameters, written as the kernel source is generated: each `u`/`i`/`f` call
 * stores a value and returns the WGSL expression that reads it, so source and values stay in step.
 */
export class Params {
  private readonly words: number[] = [];
  private readonly view = new DataView(new ArrayBuffer(4));

  u(value: number): string {
    this.words.push(value >>> 0);
    return `pu(${this.words.length - 1}u)`;
  }
  i(value: number): string {
    this.words.push(value | 0);
    return `pi(${this.words.length - 1}u)`;
  }
  f(value: number): string {
    this.view.setFloat32(0, value, true);
    this.words.push(this.view.getUint32(0, true));
    return `pf(${this.words.length - 1}u)`;
  }

  /** The uniform block and its accessors, for the kernel's source. */
  decl(): string {
    const vec4s = Math.max(1, Math.ceil(this.words.length / 4));
    return `struct Params { w: array<vec4<u32>, ${vec4s}> }
@group(0) @binding(0) var<uniform> P: Params;
fn pu(i: u32) -> u32 { return P.w[i / 4u][i % 4u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(P.w[i / 4u][i % 4u]); }
fn pf(i: u32) -> f32 { return bitcast<f32>(P.w[i / 4u][i % 4u]); }`;
  }

  private packed: Uint32Array | undefined;
  /** The words (computed once: a generated kernel's parameters never change after). */
  values(): Uint32Array {
    this.packed ??= Uint32Array.from(this.words, (w) => w >>> 0);
    return this.packed;
  }
}

/** Workgroups for `threads` invocations of a 1-d kernel of `size` per group: x up to the per-dimension limit, then y. */
export function grid(
  threads: number,
  size: number,
  maxPerDim: number,
): { groups: [number, number]; rowThreads: number } {
  const groups = Math.max(1, Math.ceil(threads / size));
  const x = Math.min(groups, maxPerDim);
  return { groups: [x, Math.ceil(groups / x)], rowThreads: x * size };
}

/** A generated kernel ready to launch: its parameters, bindings, entry point source and grid. */
export interface Launch {
  readonly params: Params;
  /** The bindings (a memoized launch gets the current call's: same structure, other buffers). */
  bound: Bound;
  /** Everything after the declarations: helper functions and `fn main`. */
  readonly main: string;
  readonly groups: readonly number[];
  /** Whether the kernel may record bad input in the error word (bound after the operands). */
  readonly reportsErrors?: boolean;
  /** The kind of kernel, for profiles ("gemm 64x64", "softmax", …). */
  readonly label: string;
  /** The compiled kernel, once looked up (a memoized launch skips the lookup). */
  kernel?: Kernel;
}

/**
 * Launches memoized by a signature of everything their source and parameters depend on (shapes,
 * strides, offsets, the binding structure): a compiled plan repeats its launches every step, and
 * generating a kernel's source to find its pipeline costs more than the dispatch. Only the
 * bindings' buffers change between hits. Bounded: past `MEMO_SIZE` entries it starts over.
 */
export class LaunchMemo {
  private readonly entries = new Map<string, Launch>();
  get(signature: string, bound: Bound, build: () => Launch | undefined): Launch | undefined {
    const hit = this.entries.get(signature);
    if (hit) {
      hit.bound = bound;
      return hit;
    }
    const l = build();
    if (!l) return undefined;
    if (this.entries.size >= MEMO_SIZE) this.entries.clear();
    this.entries.set(signature, l);
    return l;
  }
}
const MEMO_SIZE = 4096;

/** A memo signature part for each argument: views and targets by layout (their storage is in the bindings), numbers as they are. */
export function signatureOf(...parts: (View | Target | number | string | boolean | null)[]): string {
  return parts
    .map((x) =>
      x === null || typeof x !== "object"
        ? String(x)
        : "shape" in x
          ? `${x.shape}/${x.strides}@${x.offset}`
          : `@${x.offset}`,
    )
    .join("|");
}

/** Looks `signature` up in `memo` (building on a miss) and launches it with this call's bindings. */
export function launchMemoized(
  queue: GpuQueue,
  memo: LaunchMemo,
  signature: string,
  bound: Bound,
  helpers: string,
  build: () => Launch,
): void {
  launch(queue, memo.get(`${signature}|${boundSignature(bound)}`, bound, build)!, helpers);
}

/** The part of a signature that says how operands sit in their bindings. */
export const boundSignature = (bound: Bound): string =>
  `${bound.slot.join(",")}/${bound.start.join(",")}/${bound.writable.map(Number).join("")}`;

/** Ids of helper sources: the cache key names helpers by id, so only `main` is hashed per launch. */
const helperIds = new Map<string, number>();

/** Compiles (once per kernel structure) and appends the dispatch. */
export function launch(queue: GpuQueue, l: Launch, helpers: string): void {
  const ranges = [...l.bound.ranges];
  const writable = [...l.bound.writable];
  if (l.reportsErrors) {
    ranges.push({ buffer: queue.errors, offset: 0, size: 16 });
    writable.push(true);
  }
  const params = l.params.values();
  if (!l.kernel || l.kernel.error) {
    let helper = helperIds.get(helpers);
    if (helper === undefined) helperIds.set(helpers, (helper = helperIds.size));
    // The source is determined by these: the helpers, the binding structure, the parameter count and main.
    const key = `${helper}|${bindingKey(l.bound)}|${l.reportsErrors ? 1 : 0}|${params.length}|${l.main}`;
    l.kernel = queue.kernel(key, writable, () => {
      const decls = [l.params.decl(), bindingDecls(l.bound)];
      if (l.reportsErrors) decls.push(errorDecl(l.bound.ranges.length + 1));
      return [...decls, helpers, l.main].join("\n");
    });
  }
  queue.dispatch(l.kernel, params, ranges, l.groups, l.label);
}

/** `buf{slot}[u32(index)]`: operand k's element at `index` (relative to its binding). */
export const element = (bound: Bound, k: number, index: string): string => `buf${bound.slot[k]}[u32(${index})]`;

/** The view's offset from its binding's start, as a parameter. */
export const baseOf = (p: Params, bound: Bound, k: number, offset: number): string => p.i(offset - bound.start[k]);
