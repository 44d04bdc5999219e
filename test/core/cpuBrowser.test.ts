// The cpu backend in a real browser (headless chromium through test/helpers/browser.ts): the bundle
// for the browser carries no `node:` import; served cross-origin isolated, the kernels run on Web
// Workers sharing the wasm memory (a worker takes tasks) and agree with the reference backend;
// served without the isolation headers, they run on one thread and the console says so.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { browserSkip, bundle, launchBrowser, runPage, type BrowserSession } from "../helpers/browser.ts";

const PAGE = "test/browser/pages/cpuPage.ts";

describe("cpu backend in a browser", { skip: browserSkip() }, () => {
  let browser: BrowserSession;
  before(async () => {
    browser = await launchBrowser();
  });
  after(() => browser?.close());

  it("bundles for the browser without any node: import", async () => {
    assert.doesNotMatch(await bundle(PAGE), /["']node:/, "a node: module reached the browser bundle");
  });

  it("runs on Web Workers sharing the memory in a cross-origin-isolated page, agreeing with the reference", async () => {
    const { result } = await runPage(browser, PAGE, { isolated: true });
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.crossOriginIsolated, true);
    assert.equal(result.shared, true);
    assert.equal(result.threads, 2);
    assert.ok((result.taskCounts as number[])[1] > 0, `the worker ran no task: ${JSON.stringify(result.taskCounts)}`);
    assert.ok((result.worstRelativeError as number) < 1e-5, JSON.stringify(result));
  });

  it("runs on one thread without the isolation headers, and says so on the console", async () => {
    const { result, console } = await runPage(browser, PAGE, { isolated: false });
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.shared, false);
    assert.equal(result.threads, 1);
    assert.ok((result.worstRelativeError as number) < 1e-5);
    assert.match(console.join("\n"), /cpu backend runs on one thread: this page is not cross-origin isolated/);
  });
});
