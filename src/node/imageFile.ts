// Image files on disk (Node only): PNG/JPEG read through the one file reader, PNG written atomically.

import { decodeImage, encodePng, ImageError, type Image } from "../io/image.ts";
import { writeFileAtomic } from "./atomicWrite.ts";
import { readFileBytes } from "./readFileBytes.ts";

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
