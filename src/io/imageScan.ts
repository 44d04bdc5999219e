// A cheap look at an image file before training reads it: the format, the header (size within
// limits) and the file's structure (a PNG's chunk chain reaching IEND inside the file, a JPEG's frame
// header and its end-of-image marker), from a few small reads and never the pixels. It finds the
// empty, truncated, mislabelled and unsupported files that would otherwise stop a run partway.

import {
  hasEoi,
  ImageError,
  notPngOrJpeg,
  readJpegFrame,
  readPngHeader,
  sniffImageFormat,
  type ByteReader,
} from "./image.ts";

/** The format and size of an image that looks whole; anything else is an ImageError naming the problem. */
export function scanImage(
  reader: ByteReader,
  source: string,
): { format: "png" | "jpeg"; width: number; height: number } {
  const head = reader.read(0, 12);
  const format = sniffImageFormat(head);
  if (format === "png") {
    const { width, height } = readPngHeader(reader, source);
    checkPngChunks(reader, source);
    return { format, width, height };
  }
  if (format === "jpeg") {
    const { width, height, components } = readJpegFrame(reader, source);
    if (components !== 1 && components !== 3 && components !== 4)
      throw new ImageError(source, `JPEG with ${components} colour components is not supported`);
    if (!hasEoi(reader.read(Math.max(2, reader.size - 64), 64)))
      throw new ImageError(source, `truncated JPEG (no end-of-image marker in the file's ${reader.size} bytes)`);
    return { format, width, height };
  }
  return notPngOrJpeg(head, format, source);
}

/** Walks the chunks (length, type, data, CRC) from the signature to IEND; each step is one 8-byte read. */
function checkPngChunks(reader: ByteReader, source: string): void {
  let at = 8;
  let sawData = false;
  while (at + 12 <= reader.size) {
    const head = reader.read(at, 8);
    const length = new DataView(head.buffer, head.byteOffset, 8).getUint32(0);
    const type = String.fromCharCode(head[4], head[5], head[6], head[7]);
    const end = at + 12 + length;
    if (end > reader.size) {
      throw new ImageError(
        source,
        `truncated PNG: chunk ${type} at byte ${at} needs ${12 + length} bytes, the file ends ${reader.size - at} bytes on`,
      );
    }
    if (type === "IDAT") sawData = true;
    if (type === "IEND") {
      if (!sawData) throw new ImageError(source, "corrupt PNG: no IDAT chunk (no pixel data) before IEND");
      return;
    }
    at = end;
  }
  throw new ImageError(source, `truncated or corrupt PNG (no IEND chunk in the file's ${reader.size} bytes)`);
}
