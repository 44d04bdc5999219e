// The cpu backend in a real browser (headless chromium, when installed): the bundle for the browser
// carries no `node:` import; served cross-origin isolated, the kernels run on Web Workers sharing
// the wasm memory (a worker takes tasks) and agree with the reference backend; served without the
// isolation headers, they run on one thread and the console says so.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(existsSync);
const dir = mkdtempSync(path.join(os.tmpdir(), "vitmae-cpu-browser-"));
const bundle = path.join(dir, "main.js");

/** Serves the page (with or without the isolation headers) and resolves with what it posts to /result. */
async function runPage(isolated: boolean): Promise<{ result: Record<string, unknown>; console: string }> {
  const headers: Record<string, string> = isolated
    ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
    : {};
  let done: (body: string) => void = () => {};
  const posted = new Promise<string>((resolve) => (done = resolve));
  const server = http.createServer((req, res) => {
    if (req.url === "/result") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.end();
        done(body);
      });
      return;
    }
    const js = req.url === "/main.js";
    res.writeHead(200, { "Content-Type": js ? "text/javascript" : "text/html", ...headers });
    res.end(js ? readFileSync(bundle) : '<!doctype html><script type="module" src="/main.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const profile = mkdtempSync(path.join(dir, "profile-"));
  let log = "";
  const browser: ChildProcess = spawn(
    CHROMIUM!,
    [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--enable-logging=stderr",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${port}/`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  browser.stderr!.on("data", (c) => (log += c));
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result in 60 s:\n${log}`)), 60_000);
    });
    const body = await Promise.race([posted, timeout]);
    return { result: JSON.parse(body), console: log };
  } finally {
    clearTimeout(timer);
    const exited = new Promise((resolve) => browser.once("exit", resolve));
    browser.kill();
    await exited; // (it writes its profile until it exits)
    server.closeAllConnections();
    server.close();
  }
}

describe("cpu backend in a browser", { skip: CHROMIUM ? false : "chromium is not installed" }, () => {
  before(() => {
    const esbuild = path.join(root, "node_modules/.bin/esbuild");
    const out = spawnSync(
      esbuild,
      ["test/core/browser/cpuPage.ts", "--bundle", "--format=esm", "--platform=browser", `--outfile=${bundle}`],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(out.status, 0, out.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));

  it("bundles for the browser without any node: import", () => {
    const text = readFileSync(bundle, "utf8");
    assert.doesNotMatch(text, /["']node:/, "a node: module reached the browser bundle");
  });

  it("runs on Web Workers sharing the memory in a cross-origin-isolated page, agreeing with the reference", async () => {
    const { result } = await runPage(true);
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.crossOriginIsolated, true);
    assert.equal(result.shared, true);
    assert.equal(result.threads, 2);
    assert.ok((result.taskCounts as number[])[1] > 0, `the worker ran no task: ${JSON.stringify(result.taskCounts)}`);
    assert.ok((result.worstRelativeError as number) < 1e-5, JSON.stringify(result));
  });

  it("runs on one thread without the isolation headers, and says so on the console", async () => {
    const { result, console } = await runPage(false);
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.shared, false);
    assert.equal(result.threads, 1);
    assert.ok((result.worstRelativeError as number) < 1e-5);
    assert.match(console, /cpu backend runs on one thread: this page is not cross-origin isolated/);
  });
});
