// The library inside a cross-origin-isolated page (headless chromium): every backend there held to
// the reference backend on the generated op cases of test/helpers/backendConformance.ts, and the
// tiny Hugging Face case's outputs and gradients within its tolerances, computed in the page.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { browserSkip, launchBrowser, root, serve, bundle, type BrowserSession } from "../helpers/browser.ts";

/**
 * The backends held in the page: the wasm cpu backend on Web Workers. The reference backend is the
 * oracle every case runs on. The GPU backends (gpujs:webgpu, gpujs:webgl2) run the same page in
 * test/browser/gpu.test.ts; gpu.js's cpu and webasm modes are the same code as in Node (test/core/gpujs.test.ts).
 */
const PAGE_BACKENDS = ["cpu"];

interface PageResult {
  error?: string;
  threads: number;
  crossOriginIsolated: boolean;
  backends: Record<
    string,
    { properties: { name: string; error: string | null }[]; hf: Record<string, string[]>; seconds: number }
  >;
}

describe("the library in a browser page", { skip: browserSkip() }, () => {
  let browser: BrowserSession;
  let result: PageResult;
  // Under CI the seed is fcSeed.ts's; locally a new one each run (printed on failure).
  const seed = fc.readConfigureGlobal().seed ?? Math.floor(Math.random() * 2 ** 31);
  before(async () => {
    browser = await launchBrowser();
    const server = await serve(
      {
        "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
        "/main.js": await bundle("test/browser/pages/libraryPage.ts"),
        "/hf/tiny/": { dir: path.join(root, "test/fixtures/hf/tiny") },
      },
      true,
    );
    try {
      const page = await browser.open(`${server.url}?backends=${PAGE_BACKENDS.join(",")}&seed=${seed}&runs=25`);
      result = await page.result<PageResult>(240_000);
    } finally {
      await server.close();
    }
  });
  after(() => browser?.close());

  it("ran cross-origin isolated, on worker threads", () => {
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.crossOriginIsolated, true);
    assert.ok(result.threads >= 2, `threads: ${result.threads}`);
  });

  for (const name of PAGE_BACKENDS) {
    it(`${name}: every generated op case matches the reference (seed ${seed})`, () => {
      const off = result.backends[name].properties.filter((p) => p.error !== null);
      assert.ok(result.backends[name].properties.length >= 7);
      assert.deepEqual(off, [], `seed ${seed}:\n${off.map((p) => `${p.name}\n${p.error}`).join("\n\n")}`);
    });

    it(`${name}: the tiny HF case's outputs and gradients are within its tolerances`, () => {
      assert.deepEqual(result.backends[name].hf, { tiny: [] });
    });
  }
});
