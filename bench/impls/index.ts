// Which module implements each node-side impl; loaded on demand so an impl process imports only its own library.
import type { ImplName } from "../cases.ts";
import type { BenchImpl } from "./types.ts";

/** The impls that run in a node process (pytorch and pytorch-cuda run in python: bench/peers/torch_peer.py). */
export const NODE_IMPLS: Partial<Record<ImplName, () => Promise<BenchImpl>>> = {
  "vitmae-ts": async () => (await import("./vitmaeTs.ts")).vitmaeTs,
  "tfjs-cpu": async () => (await import("./tfjs.ts")).tfjsImpl("cpu"),
  "tfjs-wasm": async () => (await import("./tfjs.ts")).tfjsImpl("wasm"),
  "tfjs-wasm-tuned": async () => (await import("./tfjs.ts")).tfjsImpl("wasm-tuned"),
  "jax-js-wasm": async () => (await import("./jaxjs.ts")).jaxJsWasm,
  "vitmae-ts-webgpu": async () => (await import("./vitmaeTs.ts")).vitmaeTsWebgpu,
  "tfjs-webgpu": async () => (await import("./tfjs.ts")).tfjsImpl("webgpu"),
  "jax-js-webgpu": async () => (await import("./jaxjs.ts")).jaxJsWebgpu,
};
