// bin/webgpu.mjs, the Node entry that gives the gpujs:webgpu backend a navigator.gpu from Dawn: where
// Dawn loads (glibc >= 2.38), the backend starts or names what is missing; where it does not (Debian 12,
// this project's CI), it says why once and `loadBackend("gpujs:webgpu")` rejects naming the entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { repoRoot } from "../helpers/reference.ts";

test("node --import ./bin/webgpu.mjs: WebGPU from Dawn, or one line saying why not and a backend that refuses with the reason", () => {
  const script = `
    const T = await import("./src/core/index.ts");
    const hasGpu = typeof globalThis.navigator?.gpu === "object";
    const outcome = await T.loadBackend("gpujs:webgpu").then((b) => "started " + b.name, (e) => "refused: " + e.message);
    console.log(JSON.stringify({ hasGpu, outcome }));`;
  const r = spawnSync(
    process.execPath,
    ["--import", "./bin/webgpu.mjs", "--import", "tsx", "--input-type=module", "-e", script],
    { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const { hasGpu, outcome } = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { hasGpu: boolean; outcome: string };
  if (hasGpu) {
    // Dawn loaded: no complaint, and the backend either starts or says it found no adapter.
    assert.doesNotMatch(r.stderr, /Dawn does not load/);
    assert.match(outcome, /^started gpujs:webgpu$|^refused: .*adapter/);
  } else {
    assert.match(r.stderr, /webgpu\.mjs: Dawn does not load here, so Node has no WebGPU \(it needs glibc >= 2\.38\)/);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.match(outcome, /^refused: .*navigator\.gpu.*node --import \.\/bin\/webgpu\.mjs/);
  }
});
