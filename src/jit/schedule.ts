// Choosing the order a plan runs its equations in: what no output needs is dropped, and work that
// frees memory runs as early as it can (so a gradient's buffer is free once its update has run).

import type { View } from "../core/backend.ts";
import { TracedStorage, type Equation } from "../core/recorder.ts";

const idOf = (v: View) => (v.storage instanceof TracedStorage ? v.storage.id : undefined);

/**
 * Runs memory-freeing equations as early as they can run: one that only writes outputs of the plan
 * (an optimizer's update of one parameter, in place), that shrinks its inputs at least fourfold (a
 * reduction such as a gradient's sum of squares) or that makes a handful of numbers (what such
 * updates wait for) moves to just after its last input is computed,
 * instead of wherever the trace put it (usually after the whole backward pass). Then a gradient's
 * buffer is free once its update has run, rather than every gradient living at once. Everything
 * else keeps its order.
 */
export function freeEarly(
  eqs: readonly Equation[],
  outputs: ReadonlySet<number>,
  args: ReadonlySet<number>,
): Equation[] {
  const size = (views: readonly View[]) => views.reduce((n, v) => n + (idOf(v) === undefined ? 0 : v.storage.size), 0);
  const frees = (eq: Equation) =>
    eq.outputs.every((o) => outputs.has((o.storage as TracedStorage).id)) ||
    4 * size(eq.outputs) <= size(eq.inputs) ||
    size(eq.outputs) <= 64; // scalar bookkeeping (a step count, a bias correction) that updates wait for
  // Also early: an elementwise equation (allocating no more than it reads) that only such equations
  // read — a gradient's square, on its way to its sum.
  const readers = new Map<number, Equation[]>();
  for (const eq of eqs)
    for (const v of eq.inputs) if (idOf(v) !== undefined) readers.set(idOf(v)!, [...(readers.get(idOf(v)!) ?? []), eq]);
  const early = new Set(eqs.filter(frees));
  for (let grew = true; grew; ) {
    grew = false;
    for (const eq of eqs) {
      if (early.has(eq)) continue;
      const users = eq.outputs.flatMap((o) => readers.get((o.storage as TracedStorage).id) ?? []);
      const pullable = eq.program !== undefined && size(eq.outputs) <= size(eq.inputs);
      if (pullable && users.length > 0 && users.every((u) => early.has(u))) {
        early.add(eq);
        grew = true;
      }
    }
  }
  const ready = new Set<number>(args);
  const waiting = eqs.filter((eq) => early.has(eq));
  const order: Equation[] = [];
  const emit = (eq: Equation) => {
    order.push(eq);
    for (const o of eq.outputs) ready.add((o.storage as TracedStorage).id);
  };
  const canRun = (eq: Equation) => eq.inputs.every((v) => idOf(v) === undefined || ready.has(idOf(v)!));
  const flush = () => {
    for (let again = true; again; ) {
      again = false;
      for (let i = 0; i < waiting.length; i++) {
        if (!canRun(waiting[i])) continue;
        emit(waiting.splice(i--, 1)[0]);
        again = true;
      }
    }
  };
  flush();
  for (const eq of eqs) {
    if (early.has(eq)) continue;
    emit(eq);
    flush();
  }
  for (const eq of waiting) emit(eq); // (none left: every input is computed by the end)
  return order;
}

/** Keeps the equations some output depends on. */
export function prune(eqs: readonly Equation[], outputs: ReadonlySet<number>): Equation[] {
  const needed = new Set(outputs);
  const keep: boolean[] = new Array(eqs.length).fill(false);
  for (let i = eqs.length - 1; i >= 0; i--) {
    if (!eqs[i].outputs.some((o) => needed.has((o.storage as TracedStorage).id))) continue;
    keep[i] = true;
    for (const v of eqs[i].inputs) {
      const id = idOf(v);
      if (id !== undefined) needed.add(id);
    }
  }
  return eqs.filter((_, i) => keep[i]);
}
