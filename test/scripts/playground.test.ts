// `npm run playground` (scripts/playground.ts): builds the page, serves it on 127.0.0.1 cross-origin
// isolated, and prints the address; a bad --port is one line on stderr and exit code 2.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { repoRoot as root } from "../helpers/reference.ts";

const script = path.join(root, "scripts/playground.ts");

test("npm run playground builds, serves cross-origin isolated on 127.0.0.1 and prints the address", async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "vitmae-playground-cli-"));
  const child = spawn(process.execPath, ["--import", "tsx", script, "--port", "0", "--out", out], { cwd: root });
  try {
    let printed = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no address in 240 s; printed:\n${printed}`)), 240_000);
      child.stdout.on("data", (chunk) => {
        printed += chunk;
        const m = printed.match(/playground: (http:\/\/127\.0\.0\.1:\d+\/)/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr.on("data", (chunk) => (printed += chunk));
      child.on("exit", (code) => reject(new Error(`exited with ${code} before serving:\n${printed}`)));
    });
    for (const [file, type] of [
      ["", "text/html"],
      ["main.js", "text/javascript"],
      ["worker.js", "text/javascript"],
      ["model/config.json", "application/json"],
      ["digits.bin.gz", "application/octet-stream"],
    ]) {
      const res = await fetch(url + file);
      assert.equal(res.status, 200, `/${file}`);
      assert.match(res.headers.get("content-type") ?? "", new RegExp(type));
      assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin");
      assert.equal(res.headers.get("cross-origin-embedder-policy"), "require-corp");
      await res.arrayBuffer();
    }
    assert.equal((await fetch(`${url}nothing-here`)).status, 404);
    assert.equal((await fetch(`${url}../package.json`)).status, 404);
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill();
    await exited;
    rmSync(out, { recursive: true, force: true });
  }
});

test("a bad --port is one line on stderr and exit code 2", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", script, "--port", "http"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), "--port must be a port number (0-65535), got http");
});
