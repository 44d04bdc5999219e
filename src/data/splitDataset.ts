// A deterministic held-out split of a dataset, from a PRNG key.

import { permutationArray, type Key } from "../core/prng.ts";
import { DatasetError, subsetDataset, type Dataset } from "./dataset.ts";

/**
 * Splits `dataset` into train and test parts: a random `testFraction` of the examples (rounded, at
 * least 1, and leaving at least 1 for training) is held out. The same key always gives the same split;
 * each part keeps the dataset's order, so its own shuffling is the loader's business.
 */
export function splitDataset(dataset: Dataset, testFraction: number, key: Key): { train: Dataset; test: Dataset } {
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new DatasetError(`splitDataset: the test fraction must be in (0, 1), got ${testFraction}`);
  }
  const n = dataset.size;
  if (n < 2) {
    throw new DatasetError(
      `splitDataset: dataset ${JSON.stringify(dataset.name)} has ${n} example(s), too few to split`,
    );
  }
  const testSize = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
  const order = permutationArray(key, n);
  const test = order.slice(0, testSize).sort();
  const train = order.slice(testSize).sort();
  return {
    train: subsetDataset(dataset, train, `${dataset.name}[train]`),
    test: subsetDataset(dataset, test, `${dataset.name}[test]`),
  };
}
