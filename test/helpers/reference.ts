// Loads the Hugging Face golden cases in test/fixtures/hf (see its README, "Comparing") for tests:
// each case folder's case.json, config, model and io tensors, and the per-tensor tolerance rule.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { toNumbers, type SafeTensor } from "../../src/io/safetensors.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { loadConfig } from "../../src/mae/checkpointFolder.ts";
import "../../src/node/nodeFileSystem.ts"; // loadConfig reads through the file-system seam
import type { ViTMAEConfig } from "../../src/mae/config.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const referenceDir = path.resolve(repoRoot, "test/fixtures/hf");

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

export interface ReferenceCase {
  name: string;
  dir: string;
  modelDir: string; // the folder with config.json + model.safetensors (the case folder itself)
  json: CaseJson;
  config: ViTMAEConfig;
  /** io.safetensors: inputs, outputs, grad.*, f64.*, debug.* (raw, I64 kept as such). */
  io: Map<string, SafeTensor>;
  /** model.safetensors, raw. */
  model: Map<string, SafeTensor>;
}

/** The case folders, found by listing (a new case is picked up without code changes). */
export function referenceCaseNames(): string[] {
  if (!existsSync(referenceDir)) return [];
  return readdirSync(referenceDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(referenceDir, d.name, "case.json")))
    .map((d) => d.name)
    .sort();
}

const cache = new Map<string, ReferenceCase>();

export function loadReferenceCase(name: string): ReferenceCase {
  const hit = cache.get(name);
  if (hit) return hit;
  const dir = path.join(referenceDir, name);
  const json = JSON.parse(readFileSync(path.join(dir, "case.json"), "utf8")) as CaseJson;
  const c: ReferenceCase = {
    name,
    dir,
    modelDir: dir,
    json,
    config: loadConfig(dir),
    io: readSafetensorsFile(path.join(dir, "io.safetensors")).tensors,
    model: readSafetensorsFile(path.join(dir, "model.safetensors")).tensors,
  };
  cache.set(name, c);
  return c;
}

/** The values of a stored tensor as float64 numbers (I64 ids exactly). */
export const values = (t: SafeTensor, name?: string): Float64Array => toNumbers(t, name);

/**
 * The allowed max |ours - golden| for tensor `name`: case.json's suggested_atol, or, when the case
 * has no entry for it, the README's simpler rule 3e-5 · max|golden| (reported as `fallback`).
 */
export function toleranceOf(
  c: ReferenceCase,
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

/** Names of io tensors with the given prefix, in file order. */
export const ioNames = (c: ReferenceCase, prefix: string): string[] =>
  [...c.io.keys()].filter((n) => n.startsWith(prefix));
