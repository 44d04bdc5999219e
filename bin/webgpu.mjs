// navigator.gpu in Node, from Dawn (the `webgpu` package, which gpu.js depends on), for the
// gpujs:webgpu backend: `node --import ./bin/webgpu.mjs bin/vitmae.mjs pretrain --backend gpujs:webgpu …`.
// Dawn's binary needs glibc >= 2.38 (Ubuntu 24.04 has it, Debian 12 does not): where it does not load,
// this says why once and leaves navigator.gpu absent, so `--backend gpujs:webgpu` refuses with a reason.
let dawn;
try {
  dawn = await import("webgpu");
} catch (e) {
  const why = String(e?.message ?? e).split("\n")[0];
  console.error(`webgpu.mjs: Dawn does not load here, so Node has no WebGPU (it needs glibc >= 2.38): ${why}`);
}
if (dawn) {
  Object.assign(globalThis, dawn.globals);
  if (typeof globalThis.navigator === "undefined") globalThis.navigator = {};
  Object.defineProperty(globalThis.navigator, "gpu", { value: dawn.create([]), configurable: true });
}
