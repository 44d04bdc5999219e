// A dataset from a folder of PNG/JPEG files, laid out as torchvision's ImageFolder (one subfolder per class) or flat.

import { readdirSync, realpathSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { ImageError } from "../io/image.ts";
import { readImageFile, scanImageFile } from "../node/imageFile.ts";
import { checkIndex, DatasetError, type BadExample, type Dataset, type Sample } from "./dataset.ts";

/** The extensions listed; the format itself is told by the file's first bytes when it is read. */
const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/**
 * Images under `dir`, read lazily (one file per `get`). With subfolders, each is a class: labels are
 * the indices of the sorted class names, and each class's images are found recursively in sorted path
 * order (as torchvision's ImageFolder). Without subfolders, the images directly in `dir` are unlabelled.
 * Hidden entries and files without a .png/.jpg/.jpeg extension are skipped.
 */
export function imageFolderDataset(dir: string): Dataset {
  checkFolder(dir);
  const { files, folders } = listFolder(dir);
  if (files.length === 0 && folders.length === 0) throw new DatasetError(`folder ${JSON.stringify(dir)} is empty`);
  if (folders.length === 0) {
    const images = files.filter(isImageFile);
    if (images.length === 0) {
      throw new DatasetError(
        `no images found in ${JSON.stringify(dir)}: ${files.length} file(s), none .png/.jpg/.jpeg`,
      );
    }
    return folderDataset(
      dir,
      images.map((f) => join(dir, f)),
      undefined,
      undefined,
    );
  }
  const classNames = folders;
  const paths: string[] = [];
  const labels: number[] = [];
  classNames.forEach((name, label) => {
    const found = findImages(join(dir, name));
    if (found.length === 0) {
      throw new DatasetError(
        `class folder ${JSON.stringify(join(dir, name))} has no .png/.jpg/.jpeg images ` +
          "(every subfolder of an image-folder dataset is a class)",
      );
    }
    for (const p of found) {
      paths.push(p);
      labels.push(label);
    }
  });
  const loose = files.filter(isImageFile);
  if (loose.length > 0) {
    throw new DatasetError(
      `folder ${JSON.stringify(dir)} has class subfolders and also ${loose.length} image(s) at its top ` +
        `level (${JSON.stringify(loose[0])} ...): move them into a class folder, or remove the subfolders`,
    );
  }
  return folderDataset(dir, paths, labels, classNames);
}

function folderDataset(
  dir: string,
  paths: string[],
  labels: number[] | undefined,
  classNames: string[] | undefined,
): Dataset {
  const dataset: Dataset = {
    name: basename(dir.replace(/[/\\]+$/, "")) || dir,
    size: paths.length,
    numClasses: classNames?.length,
    classNames,
    get(index: number): Sample {
      checkIndex(dataset, index);
      const image = readImageFile(paths[index]);
      return labels === undefined ? { image } : { image, label: labels[index] };
    },
    scan(): BadExample[] {
      return paths.flatMap((path, index) => {
        try {
          scanImageFile(path);
          return [];
        } catch (e) {
          if (e instanceof ImageError) return [{ index, source: path, problem: e.problem }];
          throw e;
        }
      });
    },
  };
  return dataset;
}

/** Throws a DatasetError unless `dir` is an existing folder. */
export function checkFolder(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DatasetError(`folder ${JSON.stringify(dir)} does not exist`);
  }
  if (!isDir) throw new DatasetError(`${JSON.stringify(dir)} is a file, not a folder of images`);
}

/** Sorted names of the visible files and folders in `dir` (symbolic links followed). */
function listFolder(dir: string): { files: string[]; folders: string[] } {
  const files: string[] = [];
  const folders: string[] = [];
  for (const name of readdirSync(dir).sort(byCodeUnits)) {
    if (name.startsWith(".")) continue;
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(join(dir, name));
    } catch {
      continue;
    } // a dangling link
    if (stat.isDirectory()) folders.push(name);
    else if (stat.isFile()) files.push(name);
  }
  return { files, folders };
}

/** Image files under `dir`, recursively, ordered as torchvision's `sorted(os.walk(dir))`: by folder path, then name. */
function findImages(dir: string): string[] {
  const walked: { root: string; files: string[] }[] = [];
  const seen = new Set<string>(); // real paths, so a symbolic-link cycle is walked once
  const walk = (root: string) => {
    const real = realpathSync(root);
    if (seen.has(real)) return;
    seen.add(real);
    const { files, folders } = listFolder(root);
    walked.push({ root, files: files.filter(isImageFile) });
    for (const f of folders) walk(join(root, f));
  };
  walk(dir);
  walked.sort((a, b) => byCodeUnits(a.root, b.root));
  return walked.flatMap(({ root, files }) => files.map((f) => join(root, f)));
}

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
