// The browser harness itself (test/helpers/browser.ts): isolation headers make the page
// cross-origin isolated and their absence does not; the browser it launches has WebGL2 and a WebGPU
// adapter (what the gpu.js backends need); a page that throws fails the test with the error.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { browserSkip, launchBrowser, serve, type BrowserSession } from "../helpers/browser.ts";

const probe = `<!doctype html><script type="module">
  const adapter = await navigator.gpu?.requestAdapter();
  globalThis.__vitmaeResult = {
    crossOriginIsolated,
    sharedArrayBuffer: typeof SharedArrayBuffer === "function",
    webgpu: !!adapter,
    webgl2: !!document.createElement("canvas").getContext("webgl2"),
  };
</script>`;

describe("the browser harness", { skip: browserSkip() }, () => {
  let browser: BrowserSession;
  before(async () => {
    browser = await launchBrowser();
  });
  after(() => browser?.close());

  for (const isolated of [true, false]) {
    it(`serves a page ${isolated ? "with" : "without"} cross-origin isolation; WebGL2 and WebGPU are there`, async () => {
      const server = await serve({ "/": probe }, isolated);
      try {
        const result = await (await browser.open(server.url)).result();
        assert.deepEqual(result, {
          crossOriginIsolated: isolated,
          sharedArrayBuffer: isolated,
          webgpu: true,
          webgl2: true,
        });
      } finally {
        await server.close();
      }
    });
  }

  it("fails with the page's error when the page throws", async () => {
    const server = await serve({ "/": "<script>null.x</script><p>" }, false);
    try {
      const page = await browser.open(server.url);
      await assert.rejects(page.result(5000), /the page threw:\nTypeError: Cannot read properties of null/);
    } finally {
      await server.close();
    }
  });
});
