// The Dataset interface: a sized, indexable collection of 8-bit images with optional labels (as torch's map-style Dataset).

import type { Image } from "../io/image.ts";

/** One example: an 8-bit HWC image and, for labelled datasets, its class index in [0, numClasses). */
export interface Sample {
  image: Image;
  label?: number;
}

/** A map-style dataset: `get(i)` for 0 <= i < size, the same sample every time (folders read lazily). */
export interface Dataset {
  readonly name: string;
  readonly size: number;
  /** Set for labelled datasets. */
  readonly numClasses?: number;
  /** The class names, index = label, where the source has names (image folders). */
  readonly classNames?: readonly string[];
  get(index: number): Sample;
  /**
   * For datasets read lazily from files: a cheap look at every example's file (headers and structure,
   * not pixels), returning the ones that cannot be read, so that a run can refuse or skip them up front.
   */
  scan?(): BadExample[];
}

/** An example whose file cannot be read: its index, the file, and why. */
export interface BadExample {
  index: number;
  source: string;
  problem: string;
}

/** A dataset that cannot be made or read: a missing or empty folder, no images, a bad spec or index. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** Throws a DatasetError unless `index` is an integer in [0, dataset.size). */
export function checkIndex(dataset: Pick<Dataset, "name" | "size">, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= dataset.size) {
    throw new DatasetError(
      `dataset ${JSON.stringify(dataset.name)}: index ${index} is out of range [0, ${dataset.size})`,
    );
  }
}

/** The examples of `dataset` at `indices`, in that order, as a dataset of its own. */
export function subsetDataset(dataset: Dataset, indices: Int32Array | readonly number[], name: string): Dataset {
  for (const i of indices) checkIndex(dataset, i);
  const picked = Int32Array.from(indices);
  const subset: Dataset = {
    name,
    size: picked.length,
    numClasses: dataset.numClasses,
    classNames: dataset.classNames,
    get(index: number): Sample {
      checkIndex(subset, index);
      return dataset.get(picked[index]);
    },
  };
  const scan = dataset.scan?.bind(dataset);
  if (scan) {
    subset.scan = () => {
      const bad = new Map(scan().map((b) => [b.index, b]));
      return Array.from(picked).flatMap((i, at) => (bad.has(i) ? [{ ...bad.get(i)!, index: at }] : []));
    };
  }
  return subset;
}
