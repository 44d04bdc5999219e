// A static file server for pages on 127.0.0.1, with the headers that make them cross-origin isolated
// (so the cpu backend's Web Workers can share the WebAssembly memory): what `npm run playground`
// serves with, and what the browser tests use.

import { createReadStream, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

/** Cross-Origin-Opener-Policy and -Embedder-Policy: SharedArrayBuffer and Atomics work in the page and its workers. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
} as const;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".css": "text/css",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};
export const contentType = (file: string): string => TYPES[path.extname(file)] ?? "application/octet-stream";

export interface Server {
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` (0: any free port) with `handler`; resolves once listening. */
export async function listen(handler: http.RequestListener, port = 0): Promise<Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves the files under `dir` (index.html for a folder), cross-origin isolated unless `isolated` is false. */
export function serveFolder(dir: string, opts: { port?: number; isolated?: boolean } = {}): Promise<Server> {
  const root = path.resolve(dir);
  const headers = opts.isolated === false ? {} : ISOLATION_HEADERS;
  return listen((req, res) => {
    let file = path.join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    let stat = file.startsWith(root) ? statSync(file, { throwIfNoEntry: false }) : undefined;
    if (stat?.isDirectory()) {
      file = path.join(file, "index.html");
      stat = statSync(file, { throwIfNoEntry: false });
    }
    if (!stat?.isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain", ...headers });
      res.end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": contentType(file), "Content-Length": stat.size, ...headers });
    createReadStream(file).pipe(res);
  }, opts.port);
}
