// PNG/JPEG decoding (against PIL's convert results), PNG encoding, and the errors for bad files.

import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { decodeImage, encodePng, ImageError, MAX_IMAGE_PIXELS } from "../../src/io/image.ts";
import { readImageFile, writePngFile } from "../../src/node/imageFile.ts";

const dir = mkdtempSync(join(tmpdir(), "vitmae-image-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));

/** Throws unless `f` throws an ImageError whose message names `source` and matches `problem`. */
function assertImageError(f: () => unknown, source: string, problem: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ImageError, `expected an ImageError, got ${String(e)}`);
    assert.ok(e.message.includes(JSON.stringify(source)), `message should name ${source}: ${e.message}`);
    assert.match(e.message, problem);
    return true;
  });
}

describe("PNG", () => {
  test("encodePng -> decodeImage gives the same pixels back (gray and RGB, any size)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 17 }),
        fc.integer({ min: 1, max: 17 }),
        fc.constantFrom(1 as const, 3 as const),
        fc.integer(),
        (width, height, channels, seed) => {
          const data = new Uint8Array(width * height * channels).map((_, i) => (i * 2654435761 + seed) >>> 24);
          const image = decodeImage(encodePng(data, width, height, channels), "roundtrip.png");
          assert.deepEqual(
            { width: image.width, height: image.height, channels: image.channels, data: image.data },
            { width, height, channels, data },
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  // Small files written by PIL 9.4; the expected pixels are PIL's Image.open(f).convert("RGB"/"L").
  test("palette PNG expands to RGB; its tRNS alpha is dropped", () => {
    const expected = [170, 234, 178, 170, 234, 178, 20, 206, 245, 153, 204, 5, 122, 123, 193, 170, 234, 178];
    for (const b64 of [
      "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACAgMAAADgGo6JAAAADFBMVEWq6rKZzAUUzvV6e8H3og1NAAAADElEQVR4nGPgYCgAAACM" +
        "AHlWXrAyAAAAAElFTkSuQmCC",
      "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACAgMAAADgGo6JAAAADFBMVEWq6rKZzAUUzvV6e8H3og1NAAAAAXRSTlMAQObYZgAAAAxJ" +
        "REFUeJxj4GAoAAAAjAB5Vl6wMgAAAABJRU5ErkJggg==",
    ]) {
      const image = decodeImage(bytesOf(b64), "palette.png");
      assert.equal(image.channels, 3);
      assert.deepEqual([...image.data], expected);
    }
  });

  test("RGB PNG with a tRNS colour key keeps that pixel's colour (PIL does not composite)", () => {
    const b64 =
      "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAABnRSTlMAqADlALhEYvozAAAAHUlEQVR4nGNc8XQHM+fnzAdeDDPP" +
      "sKqaXj13YC0AX6wJrRzBcYgAAAAASUVORK5CYII=";
    const image = decodeImage(bytesOf(b64), "trns.png");
    assert.deepEqual(
      [...image.data],
      [168, 229, 184, 171, 238, 171, 20, 206, 245, 153, 204, 5, 37, 53, 213, 206, 192, 173],
    );
  });

  test("16-bit gray PNG becomes 8-bit gray by round(v * 255 / 65535)", () => {
    // Samples 0, 65535, 32767 / 257, 1000, 40000.
    const b64 =
      "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACEAAAAADoj+WFAAAAFklEQVR4nGNgYPj/v/4/EyMjy0tZRwAkxwTMLMoKhQAAAABJRU5ErkJggg==";
    const image = decodeImage(bytesOf(b64), "gray16.png");
    assert.equal(image.channels, 1);
    assert.deepEqual([...image.data], [0, 255, 127, 1, 4, 156]);
  });

  test("alpha is dropped, not composited: gray+alpha -> gray, RGBA -> RGB", () => {
    const rgba = Uint8Array.from([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255]);
    const rgbaPng = pngjs.PNG.sync.write(
      Object.assign(new pngjs.PNG({ width: 3, height: 1 }), { data: Buffer.from(rgba) }),
    );
    const rgb = decodeImage(rgbaPng, "rgba.png");
    assert.deepEqual([rgb.channels, ...rgb.data], [3, 10, 20, 30, 40, 50, 60, 70, 80, 90]);

    const gaPng = pngjs.PNG.sync.write(
      Object.assign(new pngjs.PNG({ width: 3, height: 1 }), { data: Buffer.from(rgba) }),
      { colorType: 4 },
    );
    const gray = decodeImage(gaPng, "gray-alpha.png");
    assert.equal(gray.channels, 1);
    assert.equal(gray.data.length, 3);
    assert.ok(
      gray.data.every((v, i) => Math.abs(v - [20, 50, 80][i]) <= 1),
      `gray ${[...gray.data]}`,
    ); // pngjs's own luma
  });

  test("writePngFile writes atomically: the file reads back, no temp file is left, an old file is replaced", () => {
    const path = join(dir, "out.png");
    writeFileSync(path, "old contents");
    const data = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => i * 7);
    writePngFile(path, data, 4, 3, 3);
    assert.deepEqual(readImageFile(path).data, data);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes("out.png")),
      ["out.png"],
    );
  });

  test("encodePng refuses a buffer of the wrong length", () => {
    assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), /2x2x1 needs 4 bytes, got 5/);
  });
});

describe("JPEG", () => {
  test("a JPEG encoded by jpeg-js decodes to RGB within JPEG tolerance", () => {
    const width = 16;
    const height = 8;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) rgba.set([x * 15, y * 30, 128, 255], (y * width + x) * 4);
    }
    const bytes = jpeg.encode({ width, height, data: rgba }, 95).data;
    const image = decodeImage(bytes, "gradient.jpg");
    assert.deepEqual([image.width, image.height, image.channels], [width, height, 3]);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(image.data[3 * p + c] - rgba[4 * p + c]);
        assert.ok(d <= 6, `pixel ${p} channel ${c}: ${image.data[3 * p + c]} vs ${rgba[4 * p + c]}`);
      }
    }
  });

  test("a grayscale JPEG (written by PIL) stays 1 channel, within 1 of PIL's decode", () => {
    const b64 =
      "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoK" +
      "CgoKBggLDAsKDAkKCgr/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF" +
      "BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW" +
      "V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi" +
      "4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/API/+CSX7JP/ACDP+JZ/c/gr/9k=";
    const image = decodeImage(bytesOf(b64), "gray.jpg");
    assert.deepEqual([image.width, image.height, image.channels], [8, 8, 1]);
    // PIL's decode of this file; the source was 20·x + 10·y.
    const pil = [
      0, 20, 40, 59, 81, 100, 120, 140, 10, 30, 50, 69, 91, 110, 130, 150, 20, 40, 61, 80, 101, 120, 140, 160, 30, 49,
      70, 89, 110, 129, 150, 170, 40, 60, 81, 100, 121, 140, 161, 180, 50, 70, 90, 109, 130, 149, 170, 190, 60, 80, 100,
      119, 141, 160, 180, 200, 70, 90, 110, 129, 151, 170, 190, 210,
    ];
    image.data.forEach((v, i) => assert.ok(Math.abs(v - pil[i]) <= 1, `pixel ${i}: ${v} vs PIL ${pil[i]}`));
  });
});

describe("bad files are ImageErrors naming the file", () => {
  const png = encodePng(
    Uint8Array.from({ length: 48 }, (_, i) => i * 5),
    4,
    4,
    3,
  );

  test("a corrupted PNG (bytes changed inside the image data)", () => {
    const bad = png.slice();
    for (let i = 45; i < 55; i++) bad[i] ^= 0x5a;
    assertImageError(() => decodeImage(bad, "corrupt.png"), "corrupt.png", /corrupt PNG/);
  });

  test("truncated PNG and JPEG files, at every length", () => {
    for (let n = 1; n < png.length; n++)
      assertImageError(() => decodeImage(png.subarray(0, n), "cut.png"), "cut.png", /./);
    assertImageError(
      () => decodeImage(png.subarray(0, png.length - 20), "cut.png"),
      "cut.png",
      /truncated or corrupt PNG \(no IEND/,
    );
    const jpg = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(90) }, 80).data;
    for (let n = 3; n < jpg.length; n += 7)
      assertImageError(() => decodeImage(jpg.subarray(0, n), "cut.jpg"), "cut.jpg", /JPEG/);
    assertImageError(() => decodeImage(jpg.subarray(0, jpg.length - 10), "cut.jpg"), "cut.jpg", /truncated JPEG/);
  });

  test("unknown and unsupported formats, and an empty file", () => {
    assertImageError(
      () => decodeImage(new TextEncoder().encode("hello, world"), "notes.png"),
      "notes.png",
      /not a PNG or JPEG file \(first bytes: 68 65 6c/,
    );
    assertImageError(
      () => decodeImage(new TextEncoder().encode("GIF89a......"), "anim.gif"),
      "anim.gif",
      /GIF images are not supported/,
    );
    assertImageError(() => decodeImage(new Uint8Array(0), "empty.jpg"), "empty.jpg", /empty/);
  });

  test("a header claiming an absurd size is refused before decoding", () => {
    const huge = png.slice();
    new DataView(huge.buffer).setUint32(16, 20000); // IHDR width
    new DataView(huge.buffer).setUint32(20, 20000); // IHDR height
    assert.ok(20000 * 20000 > MAX_IMAGE_PIXELS);
    assertImageError(
      () => decodeImage(huge, "huge.png"),
      "huge.png",
      /20000x20000 = 400\.0 megapixels, over the 100-megapixel limit/,
    );
  });

  test("a missing file", () => {
    const path = join(dir, "nope.png");
    assertImageError(() => readImageFile(path), path, /no such file/);
  });

  test("random corruption never escapes as anything but an ImageError", () => {
    const jpg = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).map((_, i) => i) }, 80).data;
    const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.constantFrom(png, jpg), edits, (file, edits) => {
        const bad = file.slice();
        for (const [at, v] of edits) bad[at % bad.length] = v;
        try {
          decodeImage(bad, "fuzz");
        } catch (e) {
          assert.ok(e instanceof ImageError, `escaped: ${String(e)}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

test("readImageFile reads what writePngFile wrote (gray)", () => {
  const path = join(dir, "gray.png");
  const data = Uint8Array.from({ length: 6 }, (_, i) => 40 * i);
  writePngFile(path, data, 3, 2, 1);
  const image = readImageFile(path);
  assert.deepEqual([image.width, image.height, image.channels, image.source], [3, 2, 1, path]);
  assert.deepEqual(image.data, data);
  assert.deepEqual(readFileSync(path).subarray(1, 4).toString(), "PNG");
});
