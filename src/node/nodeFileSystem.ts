// Node's file system behind the seam of src/io/fileSystem.ts. Importing this module registers it:
// the Node entry (src/index.ts), the CLI and the trainer import it, so `fromPretrained(dir)` works there.

import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { registerFileSystem, type FileSystem } from "../io/fileSystem.ts";
import { writeFileAtomic } from "./atomicWrite.ts";
import { readFileBytes } from "./readFileBytes.ts";

export const nodeFileSystem: FileSystem = {
  readFile: readFileBytes,
  writeFile: writeFileAtomic,
  kind(path) {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      return "missing"; // or unreachable (a dangling link, no permission on a parent): nothing usable there
    }
    return stat.isFile() ? "file" : stat.isDirectory() ? "folder" : "other";
  },
  makeFolder(path) {
    mkdirSync(path, { recursive: true });
  },
  join,
};

registerFileSystem(nodeFileSystem);
