// 28x28 gray digits held as bytes (MNIST's layout) as a Dataset: runs anywhere, so the browser
// playground and the Node loader of the `mnist` package (mnistDataset.ts) build the same dataset.

import { key } from "../core/prng.ts";
import { checkIndex, DatasetError, type Dataset, type Sample } from "./dataset.ts";
import { splitDataset } from "./splitDataset.ts";

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/** `labels.length` digits, image i in images[784·i, 784·(i+1)), row-major, 0 black to 255 white. */
export function digitsDataset(images: Uint8Array, labels: Uint8Array, name = "mnist"): Dataset {
  if (images.length !== labels.length * PIXELS)
    throw new DatasetError(
      `${name}: ${images.length} image bytes for ${labels.length} labels; expected ${labels.length * PIXELS} (28x28 each)`,
    );
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) throw new DatasetError(`${name}: label ${labels[bad]} at ${bad} is not a digit 0-9`);
  const dataset: Dataset = {
    name,
    size: labels.length,
    numClasses: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    get(index: number): Sample {
      checkIndex(dataset, index);
      const data = images.slice(index * PIXELS, (index + 1) * PIXELS);
      return {
        image: { width: SIDE, height: SIDE, channels: 1, data, source: `${name}[${index}]` },
        label: labels[index],
      };
    },
  };
  return dataset;
}

/**
 * The digits the demo pre-trains on and the 10% it holds out (key 1234): the same split in
 * `npm run demo` and the playground, so the playground's held-out digits are unseen by its model.
 */
export function heldOutSplit(dataset: Dataset): { train: Dataset; test: Dataset } {
  return splitDataset(dataset, 0.1, key(1234));
}
