// The GPU backends in headless chromium on SwiftShader (correct, slow: for correctness only) —
// gpujs:webgpu (WGSL on GPU buffers) and gpujs:webgl2 (gpu.js textures): each held to the reference
// backend on backendConformance's generated op cases, and the tiny and odd Hugging Face cases'
// outputs and gradients within their tolerances, eager and compiled with jit (libraryPage.ts); then
// what those cases do not reach on webgpu (gpuPage.ts): every GEMM tile, chunked reductions, a bad
// index reported by the next read, one submission per compiled step, profiles, and gpu.js's own
// webgpu matmul kernel at a ViT shape agreeing with ours.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { browserSkip, bundle, launchBrowser, root, serve, type BrowserSession } from "../helpers/browser.ts";

const GPU_BACKENDS = ["gpujs:webgpu", "gpujs:webgl2"];
const CASES = ["tiny", "odd"];

interface LibraryResult {
  error?: string;
  backends: Record<
    string,
    { properties: { name: string; error: string | null }[]; hf: Record<string, string[]>; seconds: number }
  >;
}

interface GpuResult {
  error?: string;
  adapter: string;
  gemmTiles: Record<string, number>;
  reductions: Record<string, number>;
  badIndex: { first: string; second: number[] };
  compiledStep: { submits: number[]; rerun: number[] };
  profile: { label: string; count: number }[];
  gpujsKernel: { relErr: number; values: number };
}

describe("the GPU backends in a browser page (SwiftShader)", { skip: browserSkip() }, () => {
  let browser: BrowserSession;
  let library: LibraryResult;
  let gpu: GpuResult;
  // Under CI the seed is fcSeed.ts's; locally a new one each run (printed on failure).
  const seed = fc.readConfigureGlobal().seed ?? Math.floor(Math.random() * 2 ** 31);
  before(async () => {
    browser = await launchBrowser();
    const routes = Object.fromEntries(CASES.map((c) => [`/hf/${c}/`, { dir: path.join(root, "test/fixtures/hf", c) }]));
    const open = async <R>(entry: string, query: string, timeoutMs: number): Promise<R> => {
      const server = await serve(
        {
          ...routes,
          "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>',
          "/main.js": await bundle(entry),
        },
        true,
      );
      try {
        return await (await browser.open(`${server.url}${query}`)).result<R>(timeoutMs);
      } finally {
        await server.close();
      }
    };
    // Few runs: SwiftShader compiles each new kernel in seconds.
    library = await open<LibraryResult>(
      "test/browser/pages/libraryPage.ts",
      `?backends=${GPU_BACKENDS.join(",")}&cases=${CASES.join(",")}&jit=1&seed=${seed}&runs=6`,
      900_000,
    );
    gpu = await open<GpuResult>("test/browser/pages/gpuPage.ts", "", 600_000);
  });
  after(() => browser?.close());

  it("the pages ran", () => {
    assert.equal(library.error, undefined, library.error);
    assert.equal(gpu.error, undefined, gpu.error);
    assert.match(gpu.adapter, /WebGPU/);
  });

  for (const name of GPU_BACKENDS) {
    it(`${name}: every generated op case matches the reference (seed ${seed})`, () => {
      const off = library.backends[name].properties.filter((p) => p.error !== null);
      assert.ok(library.backends[name].properties.length >= 7);
      assert.deepEqual(off, [], `seed ${seed}:\n${off.map((p) => `${p.name}\n${p.error}`).join("\n\n")}`);
    });

    it(`${name}: the ${CASES.join(" and ")} HF cases' outputs and gradients are within their tolerances, eager and under jit`, () => {
      const expected = Object.fromEntries(
        CASES.flatMap((c) => [
          [c, []],
          [`${c} (jit)`, []],
        ]),
      );
      assert.deepEqual(library.backends[name].hf, expected);
    });
  }

  it("webgpu: every GEMM tile (odd sizes, A plain and transposed) matches the reference", () => {
    assert.deepEqual(Object.keys(gpu.gemmTiles).length, 6);
    for (const [tile, err] of Object.entries(gpu.gemmTiles)) assert.ok(err < 1e-5, `${tile}: relative error ${err}`);
  });

  it("webgpu: reductions cut into chunks, over columns and with a NaN match the reference", () => {
    for (const [what, err] of Object.entries(gpu.reductions)) assert.ok(err < 1e-5, `${what}: relative error ${err}`);
  });

  it("webgpu: a bad index is thrown by the next read (the reference's message), and the read after works", () => {
    assert.equal(gpu.badIndex.first, "takeAlongAxis: index 9 out of range for axis 0 of size 4");
    assert.deepEqual(gpu.badIndex.second, [2, 3, 4, 5]);
  });

  it("webgpu: a compiled step is one submission, and reruns on new inputs equal the eager results", () => {
    assert.deepEqual(gpu.compiledStep.submits, [1, 1, 1]);
    for (const err of gpu.compiledStep.rerun) assert.ok(err < 1e-5, `rerun relative error ${err}`);
  });

  it("webgpu: a profile times each kind of kernel by label", () => {
    const labels = gpu.profile.map((r) => r.label);
    assert.ok(labels.some((l) => l.startsWith("gemm")) && labels.includes("elementwise"), JSON.stringify(gpu.profile));
  });

  it("gpu.js's own webgpu matmul kernel at a ViT attention shape agrees with ours", () => {
    assert.equal(gpu.gpujsKernel.values, 96 * 50 * 50);
    assert.ok(gpu.gpujsKernel.relErr < 1e-5, `relative error ${gpu.gpujsKernel.relErr}`);
  });
});
