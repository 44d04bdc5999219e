// The library loads where there is no Node: walks the import graph of the entries and fails on any
// Node built-in (node:fs, "path", …) imported outside the Node-only modules: src/node/ (files) and the
// Node half of the core's platform layer, which package.json "imports" picks for "#platform" in Node.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/reference.ts";

const isNodeOnly = (file: string) => file.startsWith("src/node/") || file === "src/core/platform/node.ts";

/** package.json "imports" ("#platform" → a file per condition), resolved as Node ("node") or a browser ("default"). */
const packageImports = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).imports as Record<
  string,
  Record<string, string>
>;
type Condition = "node" | "default";
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

/** Every module reachable from `entry` (repo-relative paths) under `condition`, with the chain that first reached it. */
function graph(entry: string, condition: Condition): Map<string, { chain: string[]; builtins: string[] }> {
  const seen = new Map<string, { chain: string[]; builtins: string[] }>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    const specs = importsOf(file);
    seen.set(file, { chain, builtins: specs.filter(isBuiltin) });
    for (const spec of specs) {
      const mapped = spec.startsWith("#")
        ? (packageImports[spec]?.[condition] ?? packageImports[spec]?.default)
        : undefined;
      if (spec.startsWith("#") && mapped === undefined)
        assert.fail(`${file}: ${spec} is not in package.json "imports"`);
      if (mapped !== undefined) visit(relative(repoRoot, join(repoRoot, mapped)), [...chain, file]);
      else if (spec.startsWith(".")) visit(relative(repoRoot, join(repoRoot, dirname(file), spec)), [...chain, file]);
      // anything else is a package or a built-in: not ours to walk
    }
  };
  visit(entry, []);
  return seen;
}

/** "file imports node:fs (via a → b)" for each Node import outside the Node-only modules. */
function offenders(modules: ReturnType<typeof graph>): string[] {
  const found: string[] = [];
  for (const [file, { chain, builtins: used }] of modules) {
    const bad = isNodeOnly(file) ? [] : used;
    if (bad.length > 0) found.push(`${file} imports ${bad.join(", ")} (via ${[...chain, file].join(" → ")})`);
  }
  return found;
}

test("src/index.ts (the Node entry), as Node resolves it: Node built-ins only in the Node-only modules", () => {
  const modules = graph("src/index.ts", "node");
  // The walk itself works: the entry reaches Node's file system (node:fs) and Node's platform (worker_threads).
  assert.ok(modules.get("src/node/nodeFileSystem.ts")?.builtins.includes("node:fs"), "the walk finds src/node/");
  assert.ok(modules.get("src/core/platform/node.ts")?.builtins.includes("node:worker_threads"), "and #platform");
  assert.ok(modules.has("src/mae/checkpointFolder.ts") && modules.has("src/io/safetensors.ts"));
  assert.deepEqual(offenders(modules), []);
});

test("src/universal.ts (the library anywhere), as a browser resolves it: no Node-only module, no Node built-in", () => {
  const modules = graph("src/universal.ts", "default");
  assert.ok(modules.has("src/mae/models.ts"), "the walk reaches the model classes");
  assert.ok(modules.has("src/core/platform/browser.ts"), "and the browser's platform");
  const nodeOnly = [...modules.keys()].filter(isNodeOnly);
  assert.deepEqual(nodeOnly, [], `Node-only modules reached from src/universal.ts: ${nodeOnly.join(", ")}`);
  assert.deepEqual(offenders(modules), []);
});
