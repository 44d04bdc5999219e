// The rule for comparing with a Hugging Face golden case (test/fixtures/hf/README.md, "Comparing"),
// with no Node import so that a browser page applies it too: mask and ids_restore exactly, every
// other tensor within case.json's suggested_atol (or 3e-5 · max|golden| where it has none).

import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import { jit } from "../../src/jit/index.ts";
import { toNumbers, type SafeTensor } from "../../src/io/safetensors.ts";
import type { ViTMAEConfig } from "../../src/mae/config.ts";
import { forward, type PreTrainingOutput } from "../../src/mae/forward.ts";
import { FROZEN_PARAMETERS, namedParameters, type PreTrainingParams } from "../../src/mae/params.ts";

/** The parts of case.json the tests use (the file has more). */
export interface CaseJson {
  name: string;
  flags: { output_hidden_states: boolean; output_attentions: boolean; interpolate_pos_encoding: boolean };
  derived: { grid_hw: [number, number]; seq_length: number; len_keep: number };
  frozen_parameters?: string[];
  has_grads?: boolean;
  tolerance: {
    per_tensor_f32_vs_f64: Record<
      string,
      { suggested_atol: number; max_abs_ref?: number; near_zero_reference?: boolean }
    >;
    exact?: string[];
  };
  hf_save_pretrained_config_json_would_be?: Record<string, unknown>;
}

/** The values of a stored tensor as float64 numbers (I64 ids exactly). */
export const values = (t: SafeTensor, name?: string): Float64Array => toNumbers(t, name);

/**
 * The allowed max |ours - golden| for tensor `name`: case.json's suggested_atol, or, when the case
 * has no entry for it, the README's simpler rule 3e-5 · max|golden| (reported as `fallback`).
 */
export function toleranceOf(
  c: { json: CaseJson },
  name: string,
  golden: ArrayLike<number>,
): { atol: number; fallback: boolean } {
  const entry = c.json.tolerance.per_tensor_f32_vs_f64[name];
  if (entry && Number.isFinite(entry.suggested_atol)) return { atol: entry.suggested_atol, fallback: false };
  return { atol: 3e-5 * maxAbs(golden), fallback: true };
}

export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]));
  return m;
}

/** max |a - b| (NaN when they disagree on NaN-ness or length). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

const EXACT = new Set(["mask", "ids_restore"]);
const FROZEN = new Set<string>(FROZEN_PARAMETERS.map((n) => `grad.${n}`));

/** Our result for one golden tensor: its shape and values. */
export type Ours = ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>;

/**
 * Every way `ours` misses the golden tensors `names` of a case (one line each; none: all within
 * tolerance), and the names compared by the fallback rule.
 */
export function parityFailures(
  c: { name: string; json: CaseJson; io: ReadonlyMap<string, SafeTensor> },
  ours: Ours,
  names: readonly string[],
): { failures: string[]; fallbacks: string[] } {
  const failures: string[] = [];
  const fallbacks: string[] = [];
  for (const name of names) {
    const golden = c.io.get(name);
    const mine = ours.get(name);
    if (!golden) {
      failures.push(`${name}: not in case ${c.name}`);
      continue;
    }
    if (!mine) {
      failures.push(`${name}: not produced`);
      continue;
    }
    const shapeG = golden.shape.join(",");
    if (mine.shape.join(",") !== shapeG) {
      failures.push(`${name}: shape [${mine.shape}] vs golden [${shapeG}]`);
      continue;
    }
    const g = values(golden, name);
    const diff = maxAbsDiff(mine.data, g);
    if (EXACT.has(name) || c.json.tolerance.exact?.includes(name)) {
      if (diff !== 0) failures.push(`${name}: must match exactly, max |diff| ${diff}`);
      continue;
    }
    const { atol, fallback } = toleranceOf(c, name, g);
    if (fallback) fallbacks.push(name);
    if (!(diff <= atol)) {
      const why = FROZEN.has(name)
        ? " (frozen table in HF: this gradient is informational, optimisers never use it)"
        : "";
      failures.push(
        `${name}: max |diff| ${diff.toExponential(3)} > atol ${atol.toExponential(3)} (max |golden| ${maxAbs(g).toExponential(3)})${why}`,
      );
    }
  }
  return { failures, fallbacks };
}

/** The golden tensors a case holds for us to match: outputs and gradients, not its inputs or debug values. */
export function goldenNames(c: { json: CaseJson; io: ReadonlyMap<string, SafeTensor> }): string[] {
  return [...c.io.keys()].filter(
    (n) =>
      !(n === "pixel_values" || n === "noise" || n.startsWith("debug.") || n.startsWith("f64.")) &&
      !(n.startsWith("grad.") && c.json.has_grads === false),
  );
}

/**
 * The case's forward pass on the current backend and the gradients of its loss with respect to the
 * parameters and the pixels (compiled with jit when `compiled`), under the golden files' names, read
 * with await (a GPU backend reads only so).
 */
export async function hfOutputs(
  c: { json: CaseJson; io: ReadonlyMap<string, SafeTensor> },
  config: ViTMAEConfig,
  params: PreTrainingParams,
  compiled = false,
): Promise<Ours> {
  const input = (name: string) => T.fromArray(values(c.io.get(name)!, name), c.io.get(name)!.shape);
  const opts = {
    noise: input("noise"),
    outputHiddenStates: c.json.flags.output_hidden_states,
    outputAttentions: c.json.flags.output_attentions,
    interpolatePosEncoding: c.json.flags.interpolate_pos_encoding,
  };
  const run = (p: PreTrainingParams, x: Tensor) => {
    const r = forward(p, config, x, opts);
    return [r.loss, r] as [Tensor, PreTrainingOutput];
  };
  const grads = (p: PreTrainingParams, x: Tensor) => valueAndGrad(run, { argnums: [0, 1], hasAux: true })(p, x);
  const [, [gParams, gPixels], aux] = (compiled ? jit(grads) : grads)(params, input("pixel_values"));
  const r = aux as PreTrainingOutput;
  const named: [string, Tensor][] = [
    ["last_hidden_state", r.lastHiddenState],
    ["logits", r.logits],
    ["loss", r.loss],
    ["mask", r.mask],
    ["ids_restore", r.idsRestore],
    ...(r.hiddenStates ?? []).map((h, i): [string, Tensor] => [`hidden_states.${i}`, h]),
    ...(r.attentions ?? []).map((a, i): [string, Tensor] => [`attentions.${i}`, a]),
    ...[...namedParameters(gParams as PreTrainingParams)].map(([n, g]): [string, Tensor] => [`grad.${n}`, g]),
    ["grad.pixel_values", gPixels as Tensor],
  ];
  return new Map(
    await Promise.all(named.map(async ([n, t]) => [n, { shape: t.shape, data: await t.data() }] as const)),
  );
}
