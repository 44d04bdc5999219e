// The playground's embedded digits: the 10,000 MNIST digits of the `mnist` package, written by
// scripts/playground.ts as one gzip file (N label bytes, then N 28x28 images of 784 bytes), split
// as the demo splits them so that the held-out digits are ones the shipped model never saw.

import type { Dataset } from "../src/data/dataset.ts";
import { digitsDataset, heldOutSplit, PIXELS } from "../src/data/digitsDataset.ts";

export const DIGITS_FILE = "digits.bin.gz";

export interface Digits {
  train: Dataset;
  heldOut: Dataset;
  /** The held-out digits as bytes, for the page's picker. */
  heldOutBytes: { images: Uint8Array; labels: Uint8Array };
}

/** Fetches and unpacks the digits file at `url`. */
export async function fetchDigits(url: string): Promise<Digits> {
  const response = await fetch(url);
  if (!response.ok || !response.body)
    throw new Error(`cannot fetch the digits (${url}): HTTP ${response.status} (run npm run playground to build them)`);
  const bytes = new Uint8Array(
    await new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
  );
  const n = bytes.length / (PIXELS + 1);
  if (!Number.isInteger(n) || n < 2)
    throw new Error(`${url}: ${bytes.length} bytes is not N labels and N 28x28 digits`);
  const { train, test } = heldOutSplit(digitsDataset(bytes.subarray(n), bytes.subarray(0, n)));
  const images = new Uint8Array(test.size * PIXELS);
  const labels = new Uint8Array(test.size);
  for (let i = 0; i < test.size; i++) {
    const { image, label } = test.get(i);
    images.set(image.data, i * PIXELS);
    labels[i] = label ?? 0;
  }
  return { train, heldOut: test, heldOutBytes: { images, labels } };
}
