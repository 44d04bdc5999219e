// The paths a command is given, checked before any work: an output file's folder, a checkpoint folder.

import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { resolveModelDir } from "../mae/checkpointFolder.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "../mae/checkpointNames.ts";
import { CliError } from "./command.ts";

/** Fails before any work when an output file's folder is missing or not writable (the write itself is atomic). */
export function checkOutputPath(out: string, cmd: string): void {
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
  try {
    if (statSync(out).isDirectory()) throw new CliError(`vitmae ${cmd}: ${out} is a folder; give a file path`, 2);
  } catch (e) {
    if (e instanceof CliError) throw e; // a missing file is the normal case
  }
}

/** The checkpoint folder behind --model (itself, or a pretrain output folder's checkpoint/), or a clear error. */
export function checkpointDir(flag: string, cmd: string): string {
  const dir = resolveModelDir(flag);
  if (statSync(dir).isDirectory() && !existsSync(join(dir, CHECKPOINT_FILE.config))) {
    throw new CliError(
      `vitmae ${cmd}: --model ${flag} is not a checkpoint folder ` +
        `(no ${CHECKPOINT_FILE.config} in it, nor in ${join(flag, RUN_FOLDER.checkpoint)})`,
    );
  }
  return dir;
}
