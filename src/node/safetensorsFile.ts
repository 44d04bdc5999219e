// safetensors files on disk (Node only): read through the one file reader, written atomically.

import {
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SafetensorsFile,
  type WritableTensors,
} from "../io/safetensors.ts";
import { writeFileAtomic } from "./atomicWrite.ts";
import { readFileBytes } from "./readFileBytes.ts";

/** Reads and parses a file; a missing file, a folder or an unreadable file gives a SafetensorsError. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  const bytes = readFileBytes(path, (problem, cause) => {
    throw new SafetensorsError(problem, { source: path }, cause);
  });
  return parseSafetensors(bytes, path);
}

/** Serialises and writes atomically (temp file + rename): a crash never leaves half a checkpoint. */
export function writeSafetensorsFile(
  path: string,
  tensors: WritableTensors,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata, path));
}
