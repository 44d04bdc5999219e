// The paths a command is given, checked before any work: an output file or folder (never written over
// without --overwrite, never inside a checkpoint folder), and the checkpoint folder behind --model.

import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { resolveModelDir } from "../mae/checkpointFolder.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "../mae/checkpointNames.ts";
import { CliError } from "./command.ts";

/** What a folder holds, if it is a checkpoint: a training one (resumable) or an HF one (weights). */
function checkpointIn(dir: string): "training" | "weights" | undefined {
  if (existsSync(join(dir, CHECKPOINT_FILE.trainerState))) return "training";
  if (existsSync(join(dir, CHECKPOINT_FILE.weights))) return "weights";
  return undefined;
}

/**
 * Fails before any work when an output file cannot or must not be written: its folder is missing or
 * not writable, it is a folder, it lies inside a checkpoint folder (a command's outputs would mix
 * with, or replace, the weights), or it exists and --overwrite was not given. The write itself is atomic.
 */
export function checkOutputPath(out: string, cmd: string, overwrite = false): void {
  const dir = dirname(resolve(out));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new CliError(`vitmae ${cmd}: cannot write ${out}: folder ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new CliError(`vitmae ${cmd}: cannot write ${out}: folder ${dir} is not writable`);
  }
  if (checkpointIn(dir) !== undefined) {
    throw new CliError(
      `vitmae ${cmd}: will not write ${out}: it is inside the checkpoint folder ${dir}; choose a path outside it`,
      2,
    );
  }
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = statSync(out);
  } catch {
    return; // a missing file is the normal case
  }
  if (stat.isDirectory()) throw new CliError(`vitmae ${cmd}: ${out} is a folder; give a file path`, 2);
  if (!overwrite) throw new CliError(`vitmae ${cmd}: ${out} already exists; pass --overwrite to replace it`, 2);
}

/**
 * Fails before any work when a checkpoint folder must not be written: a training checkpoint (its
 * optimizer and trainer state would be left paired with other weights), or an existing config.json or
 * model.safetensors without --overwrite.
 */
export function checkOutputCheckpoint(out: string, cmd: string, overwrite = false): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new CliError(`vitmae ${cmd}: --out ${out} is a file; give a folder`, 2);
  const training = [out, join(out, RUN_FOLDER.checkpoint)].find((d) => checkpointIn(d) === "training");
  if (training !== undefined) {
    throw new CliError(
      `vitmae ${cmd}: will not write into ${out}: ${join(training, CHECKPOINT_FILE.trainerState)} marks a training ` +
        "checkpoint, whose optimizer state would be left paired with other weights; choose another --out",
      2,
    );
  }
  const existing = [CHECKPOINT_FILE.config, CHECKPOINT_FILE.weights].map((f) => join(out, f)).filter(existsSync);
  if (existing.length > 0 && !overwrite)
    throw new CliError(`vitmae ${cmd}: ${existing.join(" and ")} already exist(s); pass --overwrite to replace`, 2);
}

/** The checkpoint folder behind --model (itself, or a pretrain output folder's checkpoint/), or a clear error. */
export function checkpointDir(flag: string, cmd: string): string {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(flag);
  } catch {
    throw new CliError(`vitmae ${cmd}: --model ${flag} does not exist`);
  }
  if (stat.isFile())
    throw new CliError(
      `vitmae ${cmd}: --model ${flag} is a file: --model takes the checkpoint folder ` +
        `(${CHECKPOINT_FILE.config} + ${CHECKPOINT_FILE.weights}), such as ${dirname(flag)}`,
      2,
    );
  if (!stat.isDirectory())
    throw new CliError(`vitmae ${cmd}: --model ${flag} is not a folder (nor a regular file): refused`, 2);
  const dir = resolveModelDir(flag);
  if (!existsSync(join(dir, CHECKPOINT_FILE.config))) {
    throw new CliError(
      `vitmae ${cmd}: --model ${flag} is not a checkpoint folder ` +
        `(no ${CHECKPOINT_FILE.config} in it, nor in ${join(flag, RUN_FOLDER.checkpoint)})`,
    );
  }
  return dir;
}
