// Image files on disk (Node only): PNG/JPEG read through the one file reader, scanned cheaply (a few
// positional reads) before training, and PNG written atomically.

import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { decodeImage, encodePng, ImageError, type ByteReader, type Image } from "../io/image.ts";
import { scanImage } from "../io/imageScan.ts";
import { writeFileAtomic } from "./atomicWrite.ts";
import { readFileBytes, readProblem } from "./readFileBytes.ts";

/** Reads and decodes an image file; a missing or unreadable file is an ImageError too. */
export function readImageFile(path: string): Image {
  const bytes = readFileBytes(path, (problem, cause) => {
    throw new ImageError(path, problem, cause);
  });
  return decodeImage(bytes, path);
}

/** Writes a PNG atomically (temp file in the same directory, then rename). */
export function writePngFile(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): void {
  writeFileAtomic(path, encodePng(data, width, height, channels));
}

/**
 * The cheap structural check of src/io/imageScan.ts on a file (its header, chunks or markers, a few
 * reads of one 64 KiB block each); an ImageError names the file and the problem.
 */
export function scanImageFile(path: string): void {
  const fail = (problem: string, cause?: unknown): never => {
    throw new ImageError(path, problem, cause);
  };
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    fail(readProblem(cause), cause);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) fail(stat.isDirectory() ? "is a folder, not a file" : "is not a regular file");
    scanImage(fileReader(fd, stat.size), path);
  } finally {
    closeSync(fd);
  }
}

/** Positional reads of an open file through a one-block cache (the scan reads small pieces close together). */
function fileReader(fd: number, size: number): ByteReader {
  const BLOCK = 1 << 16;
  let cached = { at: -1, bytes: new Uint8Array(0) };
  const block = (start: number) => {
    if (cached.at !== start) {
      const bytes = new Uint8Array(Math.min(BLOCK, size - start));
      let got = 0;
      while (got < bytes.length) {
        const n = readSync(fd, bytes, got, bytes.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      cached = { at: start, bytes: bytes.subarray(0, got) };
    }
    return cached.bytes;
  };
  return {
    size,
    read(at, length) {
      const end = Math.min(size, at + length);
      if (at >= end) return new Uint8Array(0);
      const start = at - (at % BLOCK);
      if (end <= start + BLOCK) return block(start).subarray(at - start, end - start);
      const out = new Uint8Array(end - at); // spans two blocks: copy the pieces
      for (let p = at; p < end; ) {
        const s = p - (p % BLOCK);
        const piece = block(s).subarray(p - s, Math.min(end, s + BLOCK) - s);
        out.set(piece, p - at);
        p += piece.length || end - p;
      }
      return out;
    },
  };
}
