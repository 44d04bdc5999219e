// A seeded, shuffled batch loader in which the batch at (key, step) is a pure function, so a resumed run sees the same data.

import { foldIn, permutationArray, split, checkKey, type Key } from "../core/prng.ts";
import { augment as augmentImage, type AugmentOptions } from "./augment.ts";
import { DatasetError, type Dataset } from "./dataset.ts";
import { preprocess as preprocessImage, type PreprocessOptions } from "./preprocess.ts";

export interface LoaderOptions {
  dataset: Dataset;
  batchSize: number;
  /** The loader's own key: split it off the run's key, so it never coincides with masking or init keys. */
  key: Key;
  /** The model's input size and channels, and the checkpoint's preprocessing (see `preprocessOptions`). */
  preprocess: PreprocessOptions;
  /** MAE's random crop and flip (true for the defaults); otherwise the deterministic HF preprocessing. */
  augment?: boolean | AugmentOptions;
  /** Drop the last, smaller batch of each epoch (MAE's pre-training does). Default false, as torch's DataLoader. */
  dropLast?: boolean;
  /** Visit the examples in a fresh random order each epoch (default true); false keeps dataset order. */
  shuffle?: boolean;
}

/** `batchSize` examples: pixels [B, C, H, W] row-major, the dataset indices they came from, and labels where known. */
export interface Batch {
  pixels: Float32Array;
  shape: [number, number, number, number];
  /** Present when every example in the batch has a label. */
  labels?: Int32Array;
  indices: Int32Array;
  epoch: number;
  step: number;
}

export interface Loader {
  readonly batchesPerEpoch: number;
  /** The order in which epoch `epoch` visits the dataset. */
  epochOrder(epoch: number): Int32Array;
  /** The batches of one epoch, in order. */
  epochBatches(epoch: number): Generator<Batch>;
  /** The batch at global step `step` (epoch = step / batchesPerEpoch): the same in a resumed run as in an unbroken one. */
  batchAt(step: number): Batch;
  /** Every batch from `fromStep` on, epoch after epoch, without end. */
  batches(fromStep?: number): Generator<Batch>;
}

/**
 * A deterministic loader. Epoch e's key is foldIn(key, e), split into a shuffle key (the permutation of
 * the dataset) and an augmentation key; example i's augmentation key is foldIn(augmentation key, i), so
 * a view depends only on (key, epoch, dataset index), never on the batch it lands in.
 */
export function makeLoader(options: LoaderOptions): Loader {
  const { dataset, batchSize, preprocess } = options;
  const key = checkKey(options.key, "makeLoader");
  const dropLast = options.dropLast ?? false;
  const shuffle = options.shuffle ?? true;
  const augmentOptions = options.augment === true ? {} : options.augment === false ? undefined : options.augment;
  const n = dataset.size;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DatasetError(`makeLoader: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!(n >= 1)) throw new DatasetError(`makeLoader: dataset ${JSON.stringify(dataset.name)} is empty`);
  const batchesPerEpoch = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  if (batchesPerEpoch === 0) {
    throw new DatasetError(
      `makeLoader: dataset ${JSON.stringify(dataset.name)} has ${n} examples, fewer than one batch of ` +
        `${batchSize}, and dropLast is set: no batch would ever come out`,
    );
  }
  const { channels, height, width } = preprocess;
  const positive = (v: number) => Number.isInteger(v) && v > 0;
  if (!positive(height) || !positive(width) || (channels !== 1 && channels !== 3)) {
    throw new DatasetError(
      `makeLoader: preprocess needs the model's height, width (positive integers) and channels (1 or 3), ` +
        `got ${height}x${width}x${channels}`,
    );
  }
  const sampleSize = channels * height * width;

  const checkEpoch = (epoch: number) => {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new DatasetError(`loader: epoch must be a non-negative integer, got ${epoch}`);
    }
  };
  const epochKeys = (epoch: number) => {
    const [shuffleKey, augmentKey] = split(foldIn(key, epoch), 2);
    return { shuffleKey, augmentKey };
  };
  let cached: { epoch: number; order: Int32Array } | undefined; // consecutive steps share an epoch's order
  const orderOf = (epoch: number): Int32Array => {
    if (cached?.epoch !== epoch) {
      const { shuffleKey } = epochKeys(epoch);
      const order = shuffle ? permutationArray(shuffleKey, n) : Int32Array.from({ length: n }, (_, i) => i);
      cached = { epoch, order };
    }
    return cached.order;
  };

  const batchAt = (step: number): Batch => {
    if (!Number.isInteger(step) || step < 0)
      throw new DatasetError(`loader: step must be a non-negative integer, got ${step}`);
    const epoch = Math.floor(step / batchesPerEpoch);
    const start = (step % batchesPerEpoch) * batchSize;
    const indices = orderOf(epoch).slice(start, Math.min(n, start + batchSize));
    const { augmentKey } = epochKeys(epoch);
    const b = indices.length;
    const pixels = new Float32Array(b * sampleSize);
    const labels = new Int32Array(b);
    let labelled = true;
    indices.forEach((index, row) => {
      const { image, label } = dataset.get(index);
      const view =
        augmentOptions === undefined
          ? preprocessImage(image, preprocess)
          : augmentImage(image, foldIn(augmentKey, index), { ...preprocess, ...augmentOptions });
      pixels.set(view, row * sampleSize); // view is [C, H, W]
      if (label === undefined) labelled = false;
      else labels[row] = label;
    });
    const batch: Batch = { pixels, shape: [b, channels, height, width], indices, epoch, step };
    if (labelled) batch.labels = labels;
    return batch;
  };

  return {
    batchesPerEpoch,
    epochOrder: (epoch) => {
      checkEpoch(epoch);
      return orderOf(epoch).slice();
    },
    batchAt,
    *epochBatches(epoch: number) {
      checkEpoch(epoch);
      for (let b = 0; b < batchesPerEpoch; b++) yield batchAt(epoch * batchesPerEpoch + b);
    },
    *batches(fromStep = 0) {
      for (let step = fromStep; ; step++) yield batchAt(step);
    },
  };
}
