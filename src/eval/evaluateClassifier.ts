// Held-out evaluation of a classifier, as MAE's engine_finetune.evaluate: top-1 accuracy, mean cross entropy,
// and the confusion matrix (rows: true class, columns: predicted), over a labelled dataset in order.

import * as T from "../core/index.ts";
import { makeLoader, type Dataset, type PreprocessOptions } from "../data/index.ts";
import { DatasetError } from "../data/dataset.ts";
import { crossEntropy } from "../nn/crossEntropy.ts";
import type { ViTConfig } from "../vit/config.ts";
import { classify } from "../vit/forward.ts";
import type { ClassifierParams } from "../vit/params.ts";

export interface ClassifierEvaluation {
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Mean cross entropy (no smoothing). */
  loss: number;
  count: number;
  /** confusion[true][predicted] = number of examples. */
  confusion: number[][];
}

export async function evaluateClassifier(
  params: ClassifierParams,
  cfg: ViTConfig,
  dataset: Dataset,
  opts: { preprocess: PreprocessOptions; batchSize?: number; onBatch?: (done: number, total: number) => void },
): Promise<ClassifierEvaluation> {
  const k = cfg.numLabels;
  const loader = makeLoader({
    dataset,
    batchSize: opts.batchSize ?? 64,
    key: T.key(0), // unused: no shuffling, no augmentation
    preprocess: opts.preprocess,
    augment: false,
    shuffle: false,
  });
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  let lossSum = 0;
  let count = 0;
  for (const batch of loader.epochBatches(0)) {
    if (!batch.labels) throw new DatasetError(`dataset ${JSON.stringify(dataset.name)} has unlabelled examples`);
    for (const y of batch.labels)
      if (y >= k)
        throw new DatasetError(
          `dataset ${JSON.stringify(dataset.name)} has label ${y}, but the model has ${k} classes`,
        );
    const logits = classify(params, cfg, T.fromArray(batch.pixels, batch.shape)).logits;
    // Read with await: a GPU backend reads only asynchronously.
    const [loss, predicted] = await Promise.all([
      crossEntropy(logits, batch.labels).data(),
      T.argmax(logits, -1).data(),
    ]);
    lossSum += loss[0] * batch.labels.length;
    batch.labels.forEach((y, i) => {
      const p = predicted[i];
      confusion[y][p]++;
      if (p === y) correct++;
    });
    count += batch.labels.length;
    opts.onBatch?.(count, dataset.size);
  }
  return { accuracy: correct / count, loss: lossSum / count, count, confusion };
}
