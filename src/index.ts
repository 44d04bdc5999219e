// vitmae-ts in Node: the public API (src/universal.ts) with Node's file system registered, so that
// `ViTMAEForPreTraining.fromPretrained(dir)` and `savePretrained(dir)` read and write folders.
// `import { T, grad, ViTMAEForPreTraining } from "vitmae-ts"`.

import "./node/nodeFileSystem.ts";

export * from "./universal.ts";
