// Frozen-encoder features for probing: the encoder's last_hidden_state (after its final LayerNorm) on
// every patch (maskRatio 0, identity order), pooled as the CLS token and as MAE's global_pool mean.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { DatasetError, type Dataset } from "../data/dataset.ts";
import { makeLoader } from "../data/loader.ts";
import type { PreprocessOptions } from "../data/preprocess.ts";
import { jit } from "../jit/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { ViTMAEModel } from "../mae/models.ts";
import type { EncoderParams } from "../mae/params.ts";

export interface Features {
  /** [N, D]: the CLS token. */
  cls: Tensor;
  /** [N, D]: the mean of the patch tokens 1.. (MAE's global_pool, without its fc_norm). */
  meanPool: Tensor;
  /** [N]: the class of each example. */
  labels: Int32Array;
}

/** CLS and mean-pooled patch tokens of a last_hidden_state [B, 1+L, D]. */
export function poolFeatures(lastHiddenState: Tensor): { cls: Tensor; meanPool: Tensor } {
  const [b, , d] = lastHiddenState.shape;
  const cls = T.reshape(T.slice(lastHiddenState, [null, { stop: 1 }]), [b, d]);
  const meanPool = T.mean(T.slice(lastHiddenState, [null, { start: 1 }]), 1);
  return { cls, meanPool };
}

export interface FeatureOptions {
  /** The checkpoint's preprocessing at the model's size (see preprocessOptions). */
  preprocess: PreprocessOptions;
  /** Examples per encoder call: bounds the memory (attention is B·heads·(1+L)² floats per layer). Default 128. */
  batchSize?: number;
  /** Called after each batch with the number of examples done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Features of every example of a labelled dataset, in dataset order, computed batch by batch (one awaited read each). */
export async function encoderFeatures(
  encoder: { config: ViTMAEConfig; params: EncoderParams },
  dataset: Dataset,
  opts: FeatureOptions,
): Promise<Features> {
  // Compiled, so each batch's intermediates are freed as the plan runs rather than when the event loop turns.
  const pooled = jit((p: EncoderParams, pixels: Tensor) =>
    poolFeatures(new ViTMAEModel(encoder.config, p).forward({ pixelValues: pixels, maskRatio: 0 }).lastHiddenState),
  );
  const d = encoder.config.hiddenSize;
  const n = dataset.size;
  // No shuffling and no augmentation: the key is never used, the order is the dataset's.
  const loader = makeLoader({
    dataset,
    batchSize: opts.batchSize ?? 128,
    key: T.key(0),
    preprocess: opts.preprocess,
    augment: false,
    shuffle: false,
  });
  const cls = new Float32Array(n * d);
  const meanPool = new Float32Array(n * d);
  const labels = new Int32Array(n);
  let done = 0;
  for (let step = 0; step < loader.batchesPerEpoch; step++) {
    const batch = loader.batchAt(step);
    if (!batch.labels) {
      throw new DatasetError(
        `dataset ${JSON.stringify(dataset.name)}: an example among indices ` +
          `${batch.indices[0]}..${batch.indices[batch.indices.length - 1]} has no label; probing needs a labelled dataset`,
      );
    }
    const out = pooled(encoder.params, T.fromArray(batch.pixels, batch.shape));
    // Read with await: a GPU backend reads only asynchronously.
    const [c, m] = await Promise.all([out.cls.data(), out.meanPool.data()]);
    cls.set(c, done * d);
    meanPool.set(m, done * d);
    labels.set(batch.labels, done);
    done += batch.indices.length;
    opts.onProgress?.(done, n);
  }
  return { cls: T.fromArray(cls, [n, d]), meanPool: T.fromArray(meanPool, [n, d]), labels };
}
