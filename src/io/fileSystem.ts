// The file-system seam: the few file operations that `fromPretrained(dir)` / `savePretrained(dir)`
// need, so that src/mae imports nothing from node: and loads in a browser. Node's file system is
// registered by the Node entry (src/index.ts) and by the Node-only modules that need it
// (src/node/nodeFileSystem.ts); where none is registered, a path-taking call says what to use instead.

/** Throws the caller's own error type for a problem with a file ("no such file", "is a folder, not a file", …). */
export type ReadFail = (problem: string, cause?: unknown) => never;

export interface FileSystem {
  /** The bytes of the regular file at `path`; every problem goes to `fail` (see src/node/readFileBytes.ts). */
  readFile(path: string, fail: ReadFail, limit?: { bytes: number; what: string }): Uint8Array;
  /** Writes the whole file atomically: readers see the old file or the complete new one. */
  writeFile(path: string, data: Uint8Array | string): void;
  /** What is at `path` (links followed): a file, a folder, something else, or nothing. */
  kind(path: string): "file" | "folder" | "other" | "missing";
  /** Creates the folder and its parents (nothing if it exists). */
  makeFolder(path: string): void;
  join(...parts: string[]): string;
}

/** A path was given where no file system is registered (a browser, a worker). */
export class NoFileSystemError extends Error {
  override name = "NoFileSystemError";
}

let registered: FileSystem | undefined;

/** Makes `fs` the file system that path-taking calls use (`undefined` removes it, as in a browser). */
export function registerFileSystem(fs: FileSystem | undefined): void {
  registered = fs;
}

/** The registered file system, or a NoFileSystemError naming what was asked and what to use instead. */
export function fileSystem(what: string): FileSystem {
  if (registered === undefined) {
    throw new NoFileSystemError(
      `${what}: no file system here: use fromUrl or fromBytes (in Node, import vitmae-ts, whose entry registers one)`,
    );
  }
  return registered;
}
