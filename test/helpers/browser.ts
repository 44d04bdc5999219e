// The browser harness for tests: bundles a TypeScript entry for the web with esbuild, serves it (and
// any other files) on 127.0.0.1 with or without cross-origin isolation, drives Debian's chromium
// headless through playwright-core, collects what the page reports and its console, and always
// closes the browser. The page side is test/helpers/pageResult.ts.

import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { contentType, ISOLATION_HEADERS, listen, type Server } from "../../scripts/staticServer.ts";

export { ISOLATION_HEADERS, serveFolder, type Server } from "../../scripts/staticServer.ts";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The chromium binary (Debian's first); playwright's own browser download is not used. */
export const CHROMIUM_PATH = [
  process.env.CHROMIUM_PATH,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
].find((p): p is string => !!p && existsSync(p));

/**
 * `skip` for a browser test: a reason when chromium is not installed, else false. Under CI (where
 * .ci/run installs chromium and sets VITMAE_REQUIRE_BROWSER) a missing browser is a failure.
 */
export function browserSkip(): string | false {
  if (CHROMIUM_PATH) return false;
  if (process.env.CI || process.env.VITMAE_REQUIRE_BROWSER)
    throw new Error("chromium is not installed, and this run must test in the browser (.ci/run installs it)");
  return "chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH): browser tests skipped";
}

/** An ES module bundle of `entry` (a path from the repository root) for the browser, as text. */
export async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const out = await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    define,
  });
  return out.outputFiles[0].text;
}

/** What a server answers at a path: text or bytes, or (for a path ending in "/") a folder on disk. */
export type Routes = Record<string, string | Uint8Array | { dir: string }>;

/** Serves `routes` on 127.0.0.1 (a free port); `isolated` adds the COOP/COEP headers to every answer. */
export function serve(routes: Routes, isolated: boolean): Promise<Server> {
  const headers = isolated ? ISOLATION_HEADERS : {};
  return listen((req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const found = lookup(routes, url);
    if (!found) {
      res.writeHead(404, { "Content-Type": "text/plain", ...headers });
      res.end(`not found: ${url}`);
      return;
    }
    res.writeHead(200, { "Content-Type": contentType(found.name), ...headers });
    res.end(found.body);
  });
}

const isBody = (x: Routes[string] | undefined): x is string | Uint8Array =>
  typeof x === "string" || x instanceof Uint8Array;

function lookup(routes: Routes, url: string): { name: string; body: string | Uint8Array } | undefined {
  const exact = routes[url];
  if (isBody(exact)) return { name: url === "/" ? "/index.html" : url, body: exact };
  for (const [prefix, target] of Object.entries(routes)) {
    if (!prefix.endsWith("/") || !url.startsWith(prefix) || isBody(target)) continue;
    const dir = path.resolve(target.dir);
    const file = path.resolve(dir, `.${url.slice(prefix.length - 1)}`);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return undefined;
    return { name: file, body: readFileSync(file) };
  }
  return undefined;
}

/** A page opened in the session: its console (as "type: text" lines) and uncaught errors so far. */
export interface OpenPage {
  page: Page;
  console: string[];
  errors: string[];
  /** The arguments of each console.log so far, as JSON values (in order). */
  logs: Promise<unknown[]>[];
  /** What the page passed to `reportResult` (pageResult.ts); rejects on an uncaught page error or after `timeoutMs`. */
  result<R = Record<string, unknown>>(timeoutMs?: number): Promise<R>;
}

export interface BrowserSession {
  /** Opens `url` in a new page (its own context: downloads accepted, nothing shared). */
  open(url: string): Promise<OpenPage>;
  close(): Promise<void>;
}

/**
 * Launches headless chromium: no sandbox (CI runs as root), WebGPU on (a SwiftShader adapter
 * headless; without the flag requestAdapter() gives null). Close it in a finally or an `after`.
 */
export async function launchBrowser(): Promise<BrowserSession> {
  if (!CHROMIUM_PATH) throw new Error("chromium is not installed");
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--enable-unsafe-webgpu"],
  });
  return {
    async open(url) {
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      const console: string[] = [];
      const errors: string[] = [];
      const logs: Promise<unknown[]>[] = [];
      page.on("console", (m) => {
        console.push(`${m.type()}: ${m.text()}`);
        if (m.type() === "log") logs.push(Promise.all(m.args().map((a) => a.jsonValue())));
      });
      page.on("pageerror", (e) => errors.push(String(e.stack ?? e)));
      await page.goto(url);
      return {
        page,
        console,
        errors,
        logs,
        result: (timeoutMs = 60_000) => pageResult(page, console, errors, timeoutMs),
      };
    },
    close: () => browser.close(),
  };
}

async function pageResult<R>(page: Page, console: string[], errors: string[], timeoutMs: number): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (errors.length > 0) throw new Error(`the page threw:\n${errors.join("\n")}\nconsole:\n${console.join("\n")}`);
    const result = await page.evaluate(() => (globalThis as { __vitmaeResult?: unknown }).__vitmaeResult);
    if (result !== undefined) return result as R;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no result from the page in ${timeoutMs / 1000} s; console:\n${console.join("\n")}`);
}

/** Runs `f` with a fresh browser and closes it afterwards, whatever happens. */
export async function withBrowser<R>(f: (browser: BrowserSession) => Promise<R>): Promise<R> {
  const browser = await launchBrowser();
  try {
    return await f(browser);
  } finally {
    await browser.close();
  }
}

/**
 * Bundles `entry`, serves it as the script of a blank page (isolated or not, with `routes` beside
 * it), opens it and returns what it reports with the console; the server is closed afterwards.
 */
export async function runPage(
  browser: BrowserSession,
  entry: string,
  opts: { isolated: boolean; routes?: Routes; timeoutMs?: number },
): Promise<{ result: Record<string, unknown>; console: string[] }> {
  const server = await serve(
    {
      ...opts.routes,
      "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
      "/main.js": await bundle(entry),
    },
    opts.isolated,
  );
  try {
    const page = await browser.open(server.url);
    try {
      return { result: await page.result(opts.timeoutMs), console: page.console };
    } finally {
      await page.page.context().close();
    }
  } finally {
    await server.close();
  }
}
