// The parent ↔ impl-process protocol: JSON lines on stdout, tensor summaries, and the check comparison.
//
// bench/peers/torch_peer.py speaks the same protocol; keep `summarize` and `sampleIndex` in step with it.
import type { Tensor } from "./safetensors.ts";

/** Lines the impl processes print start with this; everything else on stdout is ignored. */
export const LINE_PREFIX = "BENCH ";

/** What a check compares: enough of a tensor to catch wiring errors without shipping it whole. */
export interface Summary {
  shape: number[];
  sum: number;
  absSum: number;
  /** The first few values, then values at evenly spaced flat indices (`sampleIndex`). */
  head: number[];
  sample: number[];
}

export type ChildMessage =
  | { type: "hello"; impl: string; version: string; threads: string }
  | { type: "unsupported"; reason: string }
  | { type: "check"; outputs: Record<string, Summary>; checkMs: number }
  | { type: "result"; timesMs: number[]; ms: number; peakRssMb: number }
  | { type: "error"; message: string };

/** The parent's answer to a check, one line on the child's stdin. */
export type ParentVerdict = "time" | "skip";

const HEAD = 8;
const SAMPLES = 64;

/** The k-th of `count` evenly spaced flat indices into n values (the same formula in torch_peer.py). */
export const sampleIndex = (k: number, n: number, count: number): number => Math.floor((k * n) / count);

export function summarize(t: Tensor): Summary {
  const n = t.data.length;
  let sum = 0;
  let absSum = 0;
  for (let i = 0; i < n; i++) {
    sum += t.data[i];
    absSum += Math.abs(t.data[i]);
  }
  const count = Math.min(SAMPLES, n);
  const sample: number[] = [];
  for (let k = 0; k < count; k++) sample.push(t.data[sampleIndex(k, n, count)]);
  return { shape: [...t.shape], sum, absSum, head: Array.from(t.data.subarray(0, HEAD)), sample };
}

const num = (v: number | null): number => v ?? NaN;

export interface CheckOutcome {
  ok: boolean;
  /** The worst relative error over all checked tensors, and where it was. */
  worst: number;
  where: string;
  problems: string[];
}

/**
 * Compares an impl's check outputs with the reference's. Per tensor, the error is the largest |Δ| over the
 * head and sample values divided by the reference's largest magnitude there, and |Δsum| / reference absSum;
 * a tensor fails when either exceeds `rtol` (or when a value is NaN, or a shape differs).
 */
export function compareOutputs(
  reference: Record<string, Summary>,
  got: Record<string, Summary>,
  names: readonly string[],
  rtol: number,
): CheckOutcome {
  const problems: string[] = [];
  let worst = 0;
  let where = "";
  for (const name of names) {
    const r = reference[name];
    const g = got[name];
    if (!r) {
      problems.push(`${name}: missing from the reference`);
      continue;
    }
    if (!g) {
      problems.push(`${name}: missing from this impl's outputs`);
      continue;
    }
    if (r.shape.join(",") !== g.shape.join(",")) {
      problems.push(`${name}: shape [${g.shape}] but the reference has [${r.shape}]`);
      continue;
    }
    // JSON has no NaN: both sides write a non-finite value as null, read back here as NaN.
    const refValues = [...r.head, ...r.sample].map(num);
    const gotValues = [...g.head, ...g.sample].map(num);
    const scale = Math.max(1e-30, ...refValues.map(Math.abs));
    let err = 0;
    for (let i = 0; i < refValues.length; i++) {
      const d = Math.abs(gotValues[i] - refValues[i]) / scale;
      err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    }
    const sumErr = Math.abs(num(g.sum) - num(r.sum)) / Math.max(1e-30, num(r.absSum));
    err = Number.isNaN(sumErr) ? Infinity : Math.max(err, sumErr);
    if (err > worst || where === "") {
      worst = err;
      where = name;
    }
    if (!(err <= rtol)) problems.push(`${name}: relative error ${err.toExponential(2)} > ${rtol}`);
  }
  return { ok: problems.length === 0, worst, where, problems };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length % 2 === 1) return s[mid];
  // Halves first (no overflow near MAX_VALUE), clamped back into [lo, hi] (halving a subnormal can round to 0).
  const [lo, hi] = [s[mid - 1], s[mid]];
  return Math.min(hi, Math.max(lo, lo / 2 + hi / 2));
}
