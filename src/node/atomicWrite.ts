// Atomic file writes: temp file in the same directory, fsync, rename over the target (as npm's write-file-atomic).

import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** A failed atomic write: `path` is the target, `cause` the underlying fs error. */
export class AtomicWriteError extends Error {
  readonly path: string;
  constructor(path: string, reason: string, cause?: unknown) {
    super(`cannot write ${JSON.stringify(path)}: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = "AtomicWriteError";
    this.path = path;
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one, never a
 * partial write. The temp file sits in the target's directory because rename is only atomic within
 * one file system. On failure the temp file is removed and the target is left untouched.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const target = resolve(path);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", 0o666); // "wx": never reuse someone else's file
    keepModeOf(target, fd);
    writeFileSync(fd, data);
    fsyncSync(fd); // the bytes must be on disk before the rename makes them visible
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (cause) {
    if (fd !== undefined) ignoreErrors(() => closeSync(fd!));
    ignoreErrors(() => unlinkSync(temp));
    throw new AtomicWriteError(path, describeFsError(cause, target), cause);
  }
  syncDirectory(dirname(target));
}

/** Writes `value` as pretty-printed JSON (2-space indent, trailing newline) via `writeFileAtomic`. */
export function writeJsonAtomic(path: string, value: unknown): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (cause) {
    // cycles and BigInts land here
    throw new AtomicWriteError(path, `value is not JSON-serialisable (${errorMessage(cause)})`, cause);
  }
  if (text === undefined) throw new AtomicWriteError(path, `value of type ${typeof value} is not JSON-serialisable`);
  writeFileAtomic(path, `${text}\n`);
}

/** Replacing a file should not change its permissions, so the temp file takes the target's mode. */
function keepModeOf(target: string, fd: number): void {
  let mode: number;
  try {
    mode = statSync(target).mode & 0o7777;
  } catch {
    return; // no target yet: the umask decides, as for any new file
  }
  fchmodSync(fd, mode);
}

/** Makes the rename itself durable; best effort, as some platforms cannot fsync a directory. */
function syncDirectory(dir: string): void {
  ignoreErrors(() => {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
}

function describeFsError(cause: unknown, target: string): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const dir = dirname(target);
  const reasons: Record<string, string> = {
    ENOENT: `directory ${JSON.stringify(dir)} does not exist`,
    ENOTDIR: `a parent of ${JSON.stringify(target)} is not a directory`,
    EACCES: `permission denied in ${JSON.stringify(dir)}`,
    EPERM: `operation not permitted in ${JSON.stringify(dir)}`,
    EISDIR: "the target is a directory",
    ENOTEMPTY: "the target is a directory",
    EEXIST: "the target is a directory",
    EROFS: "read-only file system",
    ENOSPC: "no space left on device",
    EDQUOT: "disk quota exceeded",
  };
  const reason = code !== undefined && Object.hasOwn(reasons, code) ? reasons[code] : "write failed";
  return `${reason} (${errorMessage(cause)})`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ignoreErrors(f: () => void): void {
  try {
    f();
  } catch {
    /* cleanup must not mask the original error */
  }
}
