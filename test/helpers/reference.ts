// Loads the Hugging Face golden cases in test/fixtures/hf (see its README, "Comparing") for tests:
// each case folder's case.json, config, model and io tensors, and the per-tensor tolerance rule.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SafeTensor } from "../../src/io/safetensors.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { loadConfig } from "../../src/mae/checkpointFolder.ts";
import "../../src/node/nodeFileSystem.ts"; // loadConfig reads through the file-system seam
import type { ViTMAEConfig } from "../../src/mae/config.ts";
import type { CaseJson } from "./parity.ts";

export { maxAbs, maxAbsDiff, toleranceOf, values, type CaseJson } from "./parity.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const referenceDir = path.resolve(repoRoot, "test/fixtures/hf");

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

/** Names of io tensors with the given prefix, in file order. */
export const ioNames = (c: ReferenceCase, prefix: string): string[] =>
  [...c.io.keys()].filter((n) => n.startsWith(prefix));
