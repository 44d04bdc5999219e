// Reading a whole file that a user named (Node only): one set of clear problems for every reader
// (safetensors, images, IDX, JSON), and never a hang on a FIFO or a device.

import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import type { ReadFail } from "../io/fileSystem.ts";

/** The most Node reads into one buffer (2 GiB − 1). */
const MAX_READ_BYTES = 2 ** 31 - 1;

/**
 * The bytes of the regular file at `path`. A missing file, a folder, a FIFO, socket or device, a
 * file over `limit.bytes` (checked before reading) or an unreadable one calls `fail` with one line
 * that says which. The file is opened non-blocking and checked through its descriptor, so a FIFO
 * swapped in after a check cannot block the read.
 */
export function readFileBytes(path: string, fail: ReadFail, limit?: { bytes: number; what: string }): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    return fail(readProblem(cause), cause);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) fail("is a folder, not a file");
    if (!stat.isFile()) fail("is not a regular file (a FIFO, socket or device): refused, as reading it could block");
    if (limit !== undefined && stat.size > limit.bytes)
      fail(`is ${stat.size} bytes, over the ${limit.bytes}-byte limit for ${limit.what}`);
    if (stat.size > MAX_READ_BYTES) fail(`is ${stat.size} bytes, too large to read into memory`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(fd);
    } catch (cause) {
      return fail(readProblem(cause), cause);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } finally {
    closeSync(fd);
  }
}

/** The file's bytes as UTF-8 text (a BOM-less JSON file, say), with the same problems as `readFileBytes`. */
export function readFileText(path: string, fail: ReadFail, limit?: { bytes: number; what: string }): string {
  return new TextDecoder().decode(readFileBytes(path, fail, limit));
}

/** The problem an fs error means, in the words every reader uses. */
export function readProblem(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a folder, not a file";
  if (code === "ENOTDIR") return "a parent of the path is not a folder";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return `cannot read the file (${cause instanceof Error ? cause.message : String(cause)})`;
}
