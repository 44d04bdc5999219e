// What a run does with unreadable images when asked to skip them: drop the ones an up-front scan
// found, and replace any found only when read by the next readable example (a pure function of the
// index, so a resumed run reads the same images), reporting each. A scan done once serves every part
// (subset, split) of the dataset.

import { ImageError } from "../io/image.ts";
import { DatasetError, subsetDataset, type BadExample, type Dataset, type Sample } from "./dataset.ts";

/** The dataset with its scan done at most once: its subsets and splits, which scan through it, then share it. */
export function scanOnce(dataset: Dataset): Dataset {
  const scan = dataset.scan?.bind(dataset);
  if (scan === undefined) return dataset;
  let found: BadExample[] | undefined;
  return { ...dataset, scan: () => (found ??= scan()) };
}

/** The dataset without the examples in `bad` (as its scan found them), in order. */
export function withoutBad(dataset: Dataset, bad: readonly BadExample[]): Dataset {
  const dropped = new Set(bad.map((b) => b.index));
  const kept = Array.from({ length: dataset.size }, (_, i) => i).filter((i) => !dropped.has(i));
  if (kept.length === 0) throw new DatasetError(`dataset ${JSON.stringify(dataset.name)}: no readable image is left`);
  return subsetDataset(dataset, kept, dataset.name);
}

/**
 * A dataset whose examples that fail to decode (an ImageError) are replaced by the next readable one,
 * wrapping around; `onSkip` hears of each bad example once.
 */
export function skippingUnreadable(dataset: Dataset, onSkip: (bad: BadExample) => void): Dataset {
  const bad = new Set<number>();
  const read = (i: number): Sample | undefined => {
    if (bad.has(i)) return undefined;
    try {
      return dataset.get(i);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      bad.add(i);
      onSkip({ index: i, source: e.source, problem: e.problem });
      return undefined;
    }
  };
  return {
    ...dataset,
    get(index: number): Sample {
      for (let k = 0; k < dataset.size; k++) {
        const sample = read((index + k) % dataset.size);
        if (sample !== undefined) return sample;
      }
      throw new DatasetError(`dataset ${JSON.stringify(dataset.name)}: no readable image is left`);
    },
  };
}
