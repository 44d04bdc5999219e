// The checks every training command (pretrain, finetune) makes on its --out and --resume: a fresh run never
// overwrites a saved one, and a resumed run continues exactly only with the flags it was started with.

import { resolve } from "node:path";
import { findTrainingCheckpoint } from "../train/trainCheckpoint.ts";
import { CliError } from "./command.ts";

/** A fresh run must not overwrite (or truncate the log of) a run already saved in --out. */
export function refuseToOverwrite(outDir: string, resumingFrom: string | undefined, cmd: string): void {
  let existing: string;
  try {
    existing = findTrainingCheckpoint(outDir);
  } catch {
    return; // nothing saved there
  }
  if (resumingFrom !== undefined && resolve(existing) === resolve(resumingFrom)) return;
  throw new CliError(
    `vitmae ${cmd}: --out ${outDir} already holds a training run (${existing}); ` +
      `continue it with --resume ${outDir}, or choose another --out`,
    2,
  );
}

/**
 * A resumed run continues exactly only with the same hyperparameters: any difference is an error naming the
 * flag (`flagOf` maps each saved key to the flag that sets it).
 */
export function checkSameRun(
  cmd: string,
  saved: Record<string, unknown>,
  now: Record<string, unknown>,
  seeds: { saved: number; now: number },
  flagOf: Readonly<Record<string, string>>,
): void {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(saved))
    if (JSON.stringify(now[k]) !== JSON.stringify(v))
      diffs.push(`${flagOf[k] ?? k}: saved ${JSON.stringify(v)}, now ${JSON.stringify(now[k])}`);
  if (seeds.saved !== seeds.now) diffs.push(`--seed: saved ${seeds.saved}, now ${seeds.now}`);
  if (diffs.length)
    throw new CliError(`vitmae ${cmd}: --resume needs the flags of the original run (${diffs.join("; ")})`, 2);
}
