// The library loads where there is no Node: walks the import graph of the entries and fails on any
// Node built-in (node:fs, "path", …) imported outside the Node-only modules in src/node/.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/reference.ts";

/**
 * src/core is being made node-free by the core rebuild (issue 10, with the backend seam): until then
 * its wasm GEMM reads the core count and heap size, and its pool starts worker_threads. These are the
 * only Node imports allowed outside src/node/; the list shrinks as that work lands.
 */
const KNOWN_EXCEPTIONS: Record<string, string[]> = {
  "src/core/wasm/gemm.ts": ["node:os", "node:v8"],
  "src/core/wasm/pool.ts": ["node:worker_threads"],
};

const isNodeOnly = (file: string) => file.startsWith("src/node/");
const builtins = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith("node:") || builtins.has(spec.split("/")[0]);

/** The runtime imports of a module: static (not `import type`), re-exports, side-effect and dynamic ones. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(repoRoot, file), "utf8");
  const specs: string[] = [];
  const patterns = [
    /^\s*import\s+(?!type\s)[^;]*?\s+from\s+["']([^"']+)["']/gm, // import x / { x } / * as x from "…"
    /^\s*export\s+(?!type\s)[^;]*?\s+from\s+["']([^"']+)["']/gm, // export { x } / * from "…"
    /^\s*import\s+["']([^"']+)["']/gm, // import "…" (for its side effect)
    /\b(?:import|require)\(\s*["']([^"']+)["']\s*\)/g, // import("…"), require("…")
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) specs.push(m[1]);
  return specs;
}

/** Every module reachable from `entry` (repo-relative paths), with the chain that first reached it. */
function graph(entry: string): Map<string, { chain: string[]; builtins: string[] }> {
  const seen = new Map<string, { chain: string[]; builtins: string[] }>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    const specs = importsOf(file);
    seen.set(file, { chain, builtins: specs.filter(isBuiltin) });
    for (const spec of specs) {
      if (!spec.startsWith(".")) continue; // a package or a built-in: not ours to walk
      visit(relative(repoRoot, join(repoRoot, dirname(file), spec)), [...chain, file]);
    }
  };
  visit(entry, []);
  return seen;
}

/** "file imports node:fs (via a → b)" for each Node import outside src/node/ and the known exceptions. */
function offenders(modules: ReturnType<typeof graph>): string[] {
  const found: string[] = [];
  for (const [file, { chain, builtins: used }] of modules) {
    const allowed = KNOWN_EXCEPTIONS[file] ?? [];
    const bad = isNodeOnly(file) ? [] : used.filter((b) => !allowed.includes(b));
    if (bad.length > 0) found.push(`${file} imports ${bad.join(", ")} (via ${[...chain, file].join(" → ")})`);
  }
  return found;
}

test("src/index.ts (the Node entry): Node built-ins only in src/node/ and the known src/core exceptions", () => {
  const modules = graph("src/index.ts");
  // The walk itself works: the entry reaches Node's file system, which imports node:fs.
  assert.ok(modules.get("src/node/nodeFileSystem.ts")?.builtins.includes("node:fs"), "the walk finds src/node/");
  assert.ok(modules.has("src/mae/checkpointFolder.ts") && modules.has("src/io/safetensors.ts"));
  assert.deepEqual(offenders(modules), []);
});

test("src/universal.ts (the library anywhere): reaches no Node-only module and no Node built-in", () => {
  const modules = graph("src/universal.ts");
  assert.ok(modules.has("src/mae/models.ts"), "the walk reaches the model classes");
  const nodeOnly = [...modules.keys()].filter(isNodeOnly);
  assert.deepEqual(nodeOnly, [], `Node-only modules reached from src/universal.ts: ${nodeOnly.join(", ")}`);
  assert.deepEqual(offenders(modules), []);
});
