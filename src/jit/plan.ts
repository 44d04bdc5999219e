// A compiled plan: the traced equations, pruned, fused and laid out in memory once, then run on
// each call with no decisions left. Intermediate values live in one arena per backend at offsets
// chosen by liveness (a value's block is reused once its last reader has run), so the memory a
// call needs is known before it runs. Outputs get fresh storage per call, or — where an argument
// was donated and an elementwise kernel reads it last, element for element — that argument's own.

import type { Backend, DType, KeyWords, Storage, View } from "../core/backend.ts";
import { isContiguous } from "../core/shape.ts";
import { derive, type Key } from "../core/prng.ts";
import { TracedStorage, type Equation, type LaunchEnv } from "../core/recorder.ts";
import { fuseElementwise } from "./fuse.ts";
import { FreeList } from "./freeList.ts";
import { freeEarly, prune } from "./schedule.ts";
import type { KeySource, Trace } from "./trace.ts";

/** Where a value's storage is found when the plan runs. */
type Slot =
  | { readonly kind: "arena"; readonly arena: string; readonly offset: number }
  | { readonly kind: "argument"; readonly arg: number }
  | { readonly kind: "fresh"; readonly output: number }
  | { readonly kind: "constant"; readonly storage: Storage };

/** A view whose storage is a slot (resolved per call, or once when static). */
interface SlotView {
  readonly slot: Slot;
  readonly view: View;
}

interface Step {
  readonly eq: Equation;
  readonly backend: Backend;
  readonly inputs: readonly SlotView[];
  readonly outputs: readonly SlotView[];
}

export interface PlanMemory {
  /** Arena bytes per backend: the peak of every intermediate value at once. */
  readonly arenaBytes: Readonly<Record<string, number>>;
  /** Bytes of outputs allocated per call (outputs written into donated arguments excluded). */
  readonly outputBytes: number;
  /** Bytes of constants the plan holds (tensors captured while tracing). */
  readonly constantBytes: number;
}

export interface PlanInputs {
  /** The placeholder storage id of each tensor argument. */
  readonly arguments: readonly number[];
  /** Which arguments were donated: their storage may be written. */
  readonly donated: ReadonlySet<number>;
  /** The storage id (traced) or concrete storage of each output tensor. */
  readonly outputs: readonly (number | Storage)[];
}

const ALIGN = 64; // elements: 256-byte aligned blocks suit SIMD and GPU binding offsets
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const bytesOf = (dtype: DType) => (dtype === "float64" ? 8 : 4);
const idOf = (v: View) => (v.storage instanceof TracedStorage ? v.storage.id : undefined);
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

export class Plan {
  readonly steps: Step[] = [];
  readonly memory: PlanMemory;
  readonly kernelCount: number;
  /** Arenas by "backend/dtype": the size each needs, and (once run) its storage. */
  private readonly arenaSpecs = new Map<string, { backend: Backend; dtype: DType; size: number }>();
  private readonly arenas = new Map<string, Storage>();
  /** Per output: where its storage comes from. */
  private readonly outputSlots: Slot[] = [];
  /** Per output slot of kind "fresh": what to allocate. */
  private readonly freshSpecs = new Map<number, { backend: Backend; size: number; dtype: DType }>();
  private readonly keySources: readonly KeySource[];
  /** The intermediate values alive together at the plan's peak: the op that made each, and its size. */
  readonly peak: { elements: number; values: { op: string; elements: number }[] } = { elements: 0, values: [] };
  /** Per step, the views its launch gets (made on the first run). */
  private launchViews?: [MutableView[], MutableView[]][];

  constructor(trace: Trace, io: PlanInputs) {
    this.keySources = trace.keys;
    const outputIds = new Set(io.outputs.filter((o): o is number => typeof o === "number"));
    const live = prune(trace.equations, outputIds);
    const eqs = freeEarly(fuseElementwise(live, outputIds), outputIds, new Set(io.arguments));
    this.kernelCount = eqs.length;
    const slots = this.layOut(eqs, io, outputIds);
    for (const eq of eqs) {
      const at = (v: View): SlotView => {
        const id = idOf(v);
        const slot = id === undefined ? ({ kind: "constant", storage: v.storage } as const) : slots.get(id)!;
        return { slot, view: v };
      };
      this.steps.push({
        eq,
        backend: eq.outputs[0].storage.backend,
        inputs: eq.inputs.map(at),
        outputs: eq.outputs.map(at),
      });
    }
    let constantBytes = 0;
    const seen = new Set<Storage>();
    for (const s of this.steps)
      for (const v of s.inputs)
        if (v.slot.kind === "constant" && !seen.has(v.slot.storage)) {
          seen.add(v.slot.storage);
          constantBytes += v.slot.storage.size * bytesOf(v.slot.storage.dtype);
        }
    const arenaBytes: Record<string, number> = {};
    for (const a of this.arenaSpecs.values())
      arenaBytes[a.backend.name] = (arenaBytes[a.backend.name] ?? 0) + a.size * bytesOf(a.dtype);
    const outputBytes = [...this.freshSpecs.values()].reduce((n, o) => n + o.size * bytesOf(o.dtype), 0);
    this.memory = { arenaBytes, outputBytes, constantBytes };
  }

  /** Assigns every traced value a slot: arguments, arena blocks by liveness, outputs. */
  private layOut(eqs: readonly Equation[], io: PlanInputs, outputIds: ReadonlySet<number>): Map<number, Slot> {
    const slots = new Map<number, Slot>();
    io.arguments.forEach((id, arg) => slots.set(id, { kind: "argument", arg }));
    const lastUse = new Map<number, number>();
    eqs.forEach((eq, i) => {
      for (const v of eq.inputs) {
        const id = idOf(v);
        if (id !== undefined) lastUse.set(id, i);
      }
    });
    const donatedArg = new Map<number, number>(); // placeholder id → argument index, for donated ones
    io.arguments.forEach((id, arg) => {
      if (io.donated.has(arg) && !outputIds.has(id)) donatedArg.set(id, arg);
    });
    const lists = new Map<string, FreeList>();
    const listOf = (arena: string) => {
      let a = lists.get(arena);
      if (!a) lists.set(arena, (a = new FreeList()));
      return a;
    };
    const blockOf = new Map<number, { arena: string; offset: number; size: number }>();
    const producer = new Map<number, string>();
    let liveElements = 0;
    const outputIndex = new Map<number, number>();
    io.outputs.forEach((o, j) => {
      if (typeof o === "number" && !outputIndex.has(o)) outputIndex.set(o, j);
    });

    eqs.forEach((eq, i) => {
      const taken = new Set<number>(); // inputs whose block an output took over
      for (const out of eq.outputs) {
        const id = (out.storage as TracedStorage).id;
        const be = out.storage.backend;
        const size = out.storage.size;
        // An elementwise kernel may write over an input it reads last, element for element.
        const reusable = eq.program
          ? eq.inputs.find((v) => {
              const vid = idOf(v);
              return (
                vid !== undefined &&
                !taken.has(vid) &&
                !outputIds.has(vid) && // an output of the plan must survive it
                lastUse.get(vid) === i &&
                v.storage.size === size &&
                v.storage.dtype === out.storage.dtype &&
                v.offset === 0 &&
                sameShape(v.shape, out.shape) &&
                isContiguous(v) &&
                (outputIds.has(id) ? donatedArg.has(vid) : blockOf.has(vid) || donatedArg.has(vid))
              );
            })
          : undefined;
        const rid = reusable && idOf(reusable)!;
        if (rid !== undefined) {
          taken.add(rid);
          slots.set(id, slots.get(rid)!);
          if (donatedArg.has(rid)) donatedArg.set(id, donatedArg.get(rid)!);
          const block = blockOf.get(rid);
          if (block) {
            blockOf.set(id, block);
            blockOf.delete(rid);
          }
          continue;
        }
        if (outputIds.has(id)) {
          const j = outputIndex.get(id)!;
          slots.set(id, { kind: "fresh", output: j });
          this.freshSpecs.set(j, { backend: be, size, dtype: out.storage.dtype });
          continue;
        }
        const arena = `${be.name}/${out.storage.dtype}`;
        const offset = listOf(arena).allocate(align(size));
        blockOf.set(id, { arena, offset, size: align(size) });
        slots.set(id, { kind: "arena", arena, offset });
        this.arenaSpecs.set(arena, { backend: be, dtype: out.storage.dtype, size: listOf(arena).high });
        producer.set(id, eq.op);
        liveElements += align(size);
        if (liveElements > this.peak.elements) {
          this.peak.elements = liveElements;
          this.peak.values = [...blockOf].map(([v, b]) => ({ op: producer.get(v)!, elements: b.size }));
        }
      }
      // Blocks whose last reader was this equation (or that nobody reads) are free again.
      const ending = [...eq.inputs.map(idOf), ...eq.outputs.map(idOf)];
      for (const id of ending) {
        if (id === undefined || (lastUse.get(id) ?? i) > i) continue;
        const block = blockOf.get(id);
        if (block) {
          listOf(block.arena).release(block.offset, block.size);
          blockOf.delete(id);
          liveElements -= block.size;
        }
      }
    });
    // Each output: computed here (fresh or a donated argument), an argument passed through, or a constant.
    io.outputs.forEach((o, j) => {
      const slot: Slot | undefined = typeof o === "number" ? slots.get(o) : { kind: "constant", storage: o };
      if (!slot) throw new Error(`jit: output ${j} was never computed`);
      this.outputSlots[j] = slot;
    });
    return slots;
  }

  /** Runs every step; returns the storage of each output. */
  run(args: readonly Storage[], keys: readonly Key[]): Storage[] {
    for (const [name, a] of this.arenaSpecs)
      if (!this.arenas.has(name)) this.arenas.set(name, a.backend.alloc(Math.max(1, a.size), a.dtype));
    const fresh = new Map([...this.freshSpecs].map(([j, o]) => [j, o.backend.alloc(o.size, o.dtype)]));
    const storageOf = (slot: Slot): [Storage, number] => {
      switch (slot.kind) {
        case "arena":
          return [this.arenas.get(slot.arena)!, slot.offset];
        case "argument":
          return [args[slot.arg], 0];
        case "fresh":
          return [fresh.get(slot.output)!, 0];
        case "constant":
          return [slot.storage, 0];
      }
    };
    // The launch views are made once and patched per call where their storage changes (arguments,
    // fresh outputs): no JavaScript allocation per kernel launch.
    this.launchViews ??= this.steps.map((s) => [s.inputs.map(viewFor), s.outputs.map(viewFor)]);
    const place = (v: MutableView, sv: SlotView) => {
      const slot = sv.slot;
      v.storage =
        slot.kind === "arena"
          ? this.arenas.get(slot.arena)!
          : slot.kind === "argument"
            ? args[slot.arg]
            : slot.kind === "fresh"
              ? fresh.get(slot.output)!
              : slot.storage;
      v.offset = sv.view.offset + (slot.kind === "arena" ? slot.offset : 0);
    };
    this.steps.forEach((s, i) => {
      const [ins, outs] = this.launchViews![i];
      s.inputs.forEach((sv, j) => place(ins[j], sv));
      s.outputs.forEach((sv, j) => place(outs[j], sv));
    });
    const env = this.keyEnv(keys);
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i];
      const [ins, outs] = this.launchViews[i];
      s.eq.launch(s.backend, ins, outs, env);
    }
    return this.outputSlots.map((slot) => storageOf(slot)[0]);
  }

  /** The words of every stand-in key, replayed from the argument keys. */
  private keyEnv(keys: readonly Key[]): LaunchEnv {
    const words: Key[] = [];
    for (const source of this.keySources) {
      words.push(source.kind === "argument" ? keys[source.index] : derive(words[source.parent], source.how));
    }
    return {
      keyWords: (k: Key): KeyWords => {
        const concrete = k.placeholder === undefined ? k : words[k.placeholder];
        return { hi: concrete.hi, lo: concrete.lo };
      },
    };
  }

  /** Gives the arenas back (the plan can still run: they are allocated again). */
  release(): void {
    for (const a of this.arenas.values()) a.backend.free(a);
    this.arenas.clear();
  }
}

/** A launch view whose storage and offset are set per call. */
interface MutableView {
  storage: Storage;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

const viewFor = (sv: SlotView): MutableView => ({ ...sv.view });
