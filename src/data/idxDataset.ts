// A dataset from IDX files (MNIST, Fashion-MNIST, KMNIST ...): a folder with the standard names, or an images file.

import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { IdxError } from "../io/idx.ts";
import { readIdxImages, readIdxLabels } from "../node/idxFile.ts";
import { checkIndex, DatasetError, type Dataset, type Sample } from "./dataset.ts";

/** Which half of a standard IDX folder: `train-*` or `t10k-*` files. */
export type IdxSplit = "train" | "t10k";

/** The file names LeCun's site uses, with the dotted variant some mirrors use, each plain or gzipped. */
function candidates(split: IdxSplit, kind: "images" | "labels"): string[] {
  const dims = kind === "images" ? "idx3" : "idx1";
  const names = [`${split}-${kind}-${dims}-ubyte`, `${split}-${kind}.${dims}-ubyte`];
  return names.flatMap((n) => [n, `${n}.gz`]);
}

/** Whether `dir` holds the images file of a standard IDX folder (either split). */
export function isIdxFolder(dir: string): boolean {
  return (["train", "t10k"] as const).some((s) => candidates(s, "images").some((n) => existsSync(join(dir, n))));
}

/**
 * Images (and labels, when found) from IDX files. `imagesPath` is either a folder holding the standard
 * names (`train-images-idx3-ubyte(.gz)`, `train-labels-idx1-ubyte(.gz)`, or the `t10k-*` pair for
 * split "t10k"), or an images file; `labelsPath` then names its labels (by default the file whose name has
 * "labels"/"idx1" for "images"/"idx3", if present). Images are 1-channel.
 */
export function idxDataset(imagesPath: string, labelsPath?: string, options: { split?: IdxSplit } = {}): Dataset {
  if (!existsSync(imagesPath)) throw new DatasetError(`IDX dataset: ${JSON.stringify(imagesPath)} does not exist`);
  let imagesFile = imagesPath;
  let labelsFile = labelsPath;
  let name = basename(imagesPath);
  if (statSync(imagesPath).isDirectory()) {
    const split = options.split ?? "train";
    const find = (kind: "images" | "labels") =>
      candidates(split, kind)
        .map((n) => join(imagesPath, n))
        .find((p) => existsSync(p));
    const found = find("images");
    if (found === undefined) {
      const names = candidates(split, "images").join(" / ");
      throw new DatasetError(`IDX dataset: folder ${JSON.stringify(imagesPath)} has no ${names}`);
    }
    imagesFile = found;
    labelsFile ??= find("labels");
    name = `${basename(imagesPath)}/${split}`;
  } else {
    labelsFile ??= labelsFileFor(imagesPath);
  }
  const images = readIdxImages(imagesFile);
  let labels: Uint8Array | undefined;
  if (labelsFile !== undefined) {
    labels = readIdxLabels(labelsFile);
    if (labels.length !== images.count) {
      throw new IdxError(
        labelsFile,
        `${labels.length} labels for the ${images.count} images in ${JSON.stringify(imagesFile)}`,
      );
    }
  }
  const { rows, cols, data } = images;
  const numClasses =
    labels === undefined || labels.length === 0 ? undefined : labels.reduce((m, l) => Math.max(m, l), 0) + 1;
  const dataset: Dataset = {
    name,
    size: images.count,
    numClasses,
    get(index: number): Sample {
      checkIndex(dataset, index);
      const image = {
        width: cols,
        height: rows,
        channels: 1 as const,
        data: data.slice(index * rows * cols, (index + 1) * rows * cols),
        source: `${imagesFile}[${index}]`,
      };
      return labels === undefined ? { image } : { image, label: labels[index] };
    },
  };
  return dataset;
}

/** The labels file that goes with an images file by the standard naming (gzipped or not), if it exists. */
export function labelsFileFor(imagesFile: string): string | undefined {
  const name = basename(imagesFile).replace(/\.gz$/, "");
  const guess = name.replace("images", "labels").replace("idx3", "idx1");
  if (guess === name) return undefined;
  return [guess, `${guess}.gz`].map((n) => join(dirname(imagesFile), n)).find((p) => existsSync(p));
}
