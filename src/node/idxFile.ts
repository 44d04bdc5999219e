// IDX files on disk (Node only), plain or gzipped (.gz as LeCun's site serves them): read through the
// one file reader, gunzipped with a cap, decoded by src/io/idx.ts.

import { gunzipSync } from "node:zlib";
import { decodeIdx, IdxError, idxImages, idxLabels, isGzip, type IdxArray } from "../io/idx.ts";
import { readFileBytes } from "./readFileBytes.ts";

/** Decompressed size cap: Fashion-MNIST's largest file is 47 MB, so 1 GiB is corruption or a gzip bomb. */
const MAX_IDX_BYTES = 1 << 30;

/** The bytes, gunzipped when they start with the gzip magic; bad or oversized gzip data is an IdxError. */
export function gunzipIdx(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === "ERR_BUFFER_TOO_LARGE" ? `it decompresses to over ${MAX_IDX_BYTES} bytes` : (cause as Error).message;
    throw new IdxError(source, `bad gzip data: ${why}`, cause);
  }
}

/** Reads an IDX file (plain or .gz). */
export function readIdxFile(path: string): IdxArray {
  const bytes = readFileBytes(path, (problem, cause) => {
    throw new IdxError(path, problem, cause);
  });
  return decodeIdx(gunzipIdx(bytes, path), path);
}

/** Images [n, rows, cols] from an IDX file; anything but 3 dims is an error. */
export function readIdxImages(path: string): ReturnType<typeof idxImages> {
  return idxImages(readIdxFile(path), path);
}

/** Labels [n] from an IDX file; anything but 1 dim is an error. */
export function readIdxLabels(path: string): Uint8Array {
  return idxLabels(readIdxFile(path), path);
}
