// The README's TypeScript examples run as tests, so they never go stale.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

test("the README has TypeScript examples", () => assert.ok(blocks.length >= 2));

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs`, () => {
    const dir = join(root, ".readme-tmp");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example${i + 1}.ts`);
    writeFileSync(file, code);
    try {
      const out = execFileSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8" });
      // The printed comments (`// [4, 3] [3, 2]`, `// true`) are what the example promises.
      for (const [, expected] of code.matchAll(/console\.log\([^;]*\);\s*\/\/ (.+)/g)) {
        const flat = expected.replace(/\s+/g, "");
        assert.ok(
          out.replace(/\s+/g, "").includes(flat),
          `example ${i + 1} printed ${out}, expected it to show ${expected}`,
        );
      }
    } finally {
      rmSync(file, { force: true });
    }
  });
});
