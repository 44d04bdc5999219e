// The gpu.js backend against the reference backend: every kernel in each gpu.js mode available here,
// on random strided views (odd sizes, broadcast, transposed, reversed, sliced), plus mode fallback.

import { test } from "node:test";
import assert from "node:assert/strict";
import { backend, getBackend, setBackend } from "../../src/core/backend.ts";
import "../../src/core/backends/reference.ts";
import { GPUJS_MODES, bestGpujsMode, gpujsMode, isGpujsModeAvailable } from "../../src/core/backends/gpujs.ts";
import { conformanceProperties } from "../helpers/backendConformance.ts";

// "gpu" resolves to one of the GL modes, which are tested under their own names where they exist.
const MODES = GPUJS_MODES.filter((m) => m !== "gpu" && isGpujsModeAvailable(m));

for (const mode of MODES) {
  // gpu.js compiles each new shape signature (tens of ms): few runs.
  for (const p of conformanceProperties(`gpujs:${mode}`, { numRuns: 12, mathTol: 2e-6 })) test(p.name, () => p.run());

  test(`gpujs:${mode}: offsets past 2^24 and dims past 2^23 are exact (float32 thread ids)`, () => {
    // a transposed 4099 x 4099 copy reaches element 16.8M (> 2^24); a flat 2^23 + 2 map splits into 2 x 4194305
    const g = getBackend(`gpujs:${mode}`);
    const ref = getBackend("reference");
    const n = 4099;
    const data = new Float32Array(n * n).map((_, i) => i % 8191);
    const run = (b: typeof g, op: "identity" | "neg", shape: number[], strides: number[], offset: number) => {
      const storage = b.upload(data, "float32");
      const out = b.alloc(
        shape.reduce((x, y) => x * y, 1),
        "float32",
      );
      const outView = { storage: out, shape, strides: shape.length === 2 ? [shape[1], 1] : [1], offset: 0 };
      b.elementwise(
        {
          code: [
            { op: "input", index: 0 },
            { op, x: 0 },
          ],
          outputs: [1],
        },
        [{ storage, shape, strides, offset }],
        shape,
        [outView],
      );
      return b.readSync(outView);
    };
    assert.deepEqual(run(g, "identity", [n, n], [1, n], 0), run(ref, "identity", [n, n], [1, n], 0));
    assert.deepEqual(run(g, "neg", [2 ** 23 + 2], [1], 3), run(ref, "neg", [2 ** 23 + 2], [1], 3));
  });
}

// ---- Mode selection ----

test("every gpu.js mode is selectable; an unavailable one falls back to the best with one warning naming both", (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  try {
    const best = bestGpujsMode();
    assert.ok(isGpujsModeAvailable(best) && isGpujsModeAvailable("cpu"));
    assert.equal(isGpujsModeAvailable("webgpu"), false, "webgpu kernels are asynchronous");
    for (const mode of GPUJS_MODES) {
      if (mode === "webgpu" || mode === "webgl2") continue; // resident backends of their own (test/core/webgpu.test.ts)
      warn.mock.resetCalls();
      const b = setBackend(`gpujs:${mode}`);
      const active = gpujsMode();
      assert.equal(b.name, `gpujs:${active}`);
      if (isGpujsModeAvailable(mode)) {
        assert.equal(warn.mock.callCount(), 0, `${mode}: no warning`);
        if (mode !== "gpu") assert.equal(active, mode);
        else assert.ok(["headlessgl", "webgl2", "webgl"].includes(active!), `gpu ran as ${active}`);
      } else {
        assert.equal(active, best, `${mode} falls back to ${best}`);
        assert.equal(warn.mock.callCount(), 1, `${mode}: one warning`);
        assert.equal(warn.mock.calls[0].arguments[0], `gpu.js mode "${mode}" is not available here; using "${best}"`);
      }
    }
    warn.mock.resetCalls();
    setBackend("gpujs");
    assert.equal(gpujsMode(), best);
    assert.equal(warn.mock.callCount(), 0);
    setBackend("reference");
    assert.equal(gpujsMode(), undefined);
    assert.equal(backend().name, "reference");
  } finally {
    setBackend("reference");
  }
});
