// The checks every training command (pretrain, finetune) makes on its --out and --resume: a fresh run never
// overwrites a saved one, and a resumed run continues exactly only with the flags, data and config it was
// started with; and how a run that stopped itself (divergence, a failed step) ends the command.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ImageError } from "../io/image.ts";
import { hfKeyOf, type FieldName, type ViTMAEConfig } from "../mae/config.ts";
import { DivergenceError, StepFailedError } from "../train/runGuard.ts";
import { findTrainingCheckpoint } from "../train/trainCheckpoint.ts";
import { CliError } from "./command.ts";

/**
 * A fresh run must not overwrite (or truncate the log of) a run already saved in --out. Files an earlier
 * run left without a checkpoint (`runFiles`, e.g. its log) are replaced only with `overwrite`.
 */
export function refuseToOverwrite(
  outDir: string,
  resumingFrom: string | undefined,
  cmd: string,
  opts: { overwrite?: boolean; runFiles?: readonly string[] } = {},
): void {
  let existing: string | undefined;
  try {
    existing = findTrainingCheckpoint(outDir);
  } catch {
    /* nothing saved there */
  }
  if (existing !== undefined) {
    if (resumingFrom !== undefined && resolve(existing) === resolve(resumingFrom)) return;
    throw new CliError(
      `vitmae ${cmd}: --out ${outDir} already holds a training run (${existing}); ` +
        `continue it with --resume ${outDir}, or choose another --out`,
      2,
    );
  }
  const earlier = (opts.runFiles ?? []).map((f) => join(outDir, f)).filter(existsSync);
  if (earlier.length > 0 && resumingFrom === undefined && opts.overwrite !== true)
    throw new CliError(
      `vitmae ${cmd}: --out ${outDir} holds an earlier run's ${earlier.join(" and ")}; ` +
        "pass --overwrite to start afresh there, or choose another --out",
      2,
    );
}

/** A run's input given by a flag, as saved and as given now (compared as JSON). */
export interface RunInput {
  flag: string;
  saved: unknown;
  given: unknown;
}

/**
 * A resumed run continues exactly only with the same hyperparameters, seed, data, config and other inputs:
 * any difference is an error naming the flag (`flagOf` maps each saved key to the flag that sets it) with
 * the saved and the given value.
 */
export function checkSameRun(
  cmd: string,
  saved: Record<string, unknown>,
  now: Record<string, unknown>,
  seeds: { saved: number; now: number },
  flagOf: Readonly<Record<string, string>>,
  more: {
    data?: { saved: string; given: string };
    configDiffs?: readonly string[];
    inputs?: readonly RunInput[];
  } = {},
): void {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(saved))
    if (JSON.stringify(now[k]) !== JSON.stringify(v))
      diffs.push(`${flagOf[k] ?? k}: saved ${JSON.stringify(v)}, now ${JSON.stringify(now[k])}`);
  if (seeds.saved !== seeds.now) diffs.push(`--seed: saved ${seeds.saved}, now ${seeds.now}`);
  const { data, configDiffs } = more;
  if (data !== undefined && normalizeDataSpec(data.saved) !== normalizeDataSpec(data.given))
    diffs.push(`--data: saved ${JSON.stringify(data.saved)}, given ${JSON.stringify(data.given)}`);
  if (configDiffs !== undefined && configDiffs.length > 0) diffs.push(`--config: ${configDiffs.join(", ")}`);
  for (const { flag, saved: was, given } of more.inputs ?? [])
    if (JSON.stringify(was) !== JSON.stringify(given))
      diffs.push(`${flag}: saved ${JSON.stringify(was)}, given ${JSON.stringify(given)}`);
  if (diffs.length)
    throw new CliError(`vitmae ${cmd}: --resume needs the flags of the original run (${diffs.join("; ")})`, 2);
}

/** A data spec with its path made absolute, so "data" and "./data" compare equal. */
export function normalizeDataSpec(spec: string): string {
  if (spec === "mnist") return spec;
  if (spec.startsWith("idx:")) {
    const split = /:(train|t10k)$/.exec(spec)?.[0] ?? "";
    return `idx:${resolve(spec.slice(4, spec.length - split.length))}${split}`;
  }
  return resolve(spec);
}

/** "hidden_size: saved 16, given 32" for each of a ViTMAE config's 19 fields that differ. */
export function maeConfigDiffs(saved: ViTMAEConfig, given: ViTMAEConfig): string[] {
  return (Object.keys(hfKeyOf) as FieldName[]).flatMap((f) => {
    const [a, b] = [JSON.stringify(saved[f]), JSON.stringify(given[f])];
    return a === b ? [] : [`${hfKeyOf[f]}: saved ${a}, given ${b}`];
  });
}

/** Whether --out holds a saved run (a checkpoint to resume). */
function savedRun(outDir: string): boolean {
  try {
    findTrainingCheckpoint(outDir);
    return true;
  } catch {
    return false;
  }
}

/**
 * The one line a run that stopped itself ends its command with: divergence (the last good checkpoint kept),
 * or a failed step (the run so far saved; an unreadable image suggests --skip-bad-images); anything else as it is.
 */
export function trainingFailure(cmd: string, e: unknown, outDir: string): unknown {
  if (e instanceof DivergenceError) return new CliError(`vitmae ${cmd}: ${e.message}`);
  if (e instanceof StepFailedError) {
    const hint = e.cause instanceof ImageError ? "; fix or remove the file, or pass --skip-bad-images" : "";
    const then = savedRun(outDir) ? `continue with --resume ${outDir}` : "run it again";
    return new CliError(`vitmae ${cmd}: ${e.message}${hint}; then ${then}`);
  }
  return e;
}
