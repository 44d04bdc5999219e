// The README's <script type="module"> examples run in headless chromium against the bundle that
// `npm run build` makes (built here into a temporary folder), in a cross-origin-isolated page served
// beside the playground's checkpoint; what each console.log prints must be what its comment says.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildBundle } from "../../scripts/build.ts";
import { browserSkip, launchBrowser, root, serve, type BrowserSession } from "../helpers/browser.ts";

const readme = readFileSync(path.join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);

/** The `// expected` comments after each console.log in `code`, in order. */
const promised = (code: string) => [...code.matchAll(/console\.log\([^;]*\);\s*\/\/ (.+)/g)].map((m) => m[1]);
/** How a comment reads against printed JSON: spaces dropped, and a trailing "(why)" note ignored. */
const flat = (s: string) => s.replace(/\s+\(.*\)$/, "").replace(/\s+/g, "");

describe("the README's browser examples", { skip: browserSkip() }, () => {
  const dist = mkdtempSync(path.join(os.tmpdir(), "vitmae-dist-"));
  let browser: BrowserSession;
  before(async () => {
    await buildBundle(path.join(dist, "vitmae.js"));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    rmSync(dist, { recursive: true, force: true });
  });

  it("has two <script type=module> examples, each promising what it prints", () => {
    assert.equal(blocks.length, 2);
    for (const code of blocks) {
      assert.match(code, /<script type="module">/);
      assert.ok(promised(code).length >= 2);
    }
  });

  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs in the page and prints what it says`, async () => {
      const server = await serve(
        { "/": code, "/dist/": { dir: dist }, "/playground/model/": { dir: path.join(root, "playground/model") } },
        true,
      );
      try {
        const page = await browser.open(server.url);
        const want = promised(code);
        const deadline = Date.now() + 60_000;
        while (page.logs.length < want.length && page.errors.length === 0 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(page.errors, [], `the example threw; console:\n${page.console.join("\n")}`);
        const printed = await Promise.all(page.logs);
        assert.equal(printed.length, want.length, `printed ${JSON.stringify(printed)}`);
        printed.forEach((args, k) =>
          assert.equal(args.map((a) => JSON.stringify(a)).join(""), flat(want[k]), `console.log ${k + 1}`),
        );
      } finally {
        await server.close();
      }
    });
  });
});
