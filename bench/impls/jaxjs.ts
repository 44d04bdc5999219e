// The jax-js peer (@jax-js/jax, wasm device) in its own idiom: pure functions over a params pytree, jit + valueAndGrad.
//
// jax-js counts references: every function consumes its array arguments, so an array used twice is passed as
// `.ref` the first time (its README, "Reference counting"). The block follows HF's ViTMAELayer (SPEC.md §5-6).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { blockUntilReady, defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad } from "@jax-js/jax";
import type { BlockShape, CaseKind, CaseSpec } from "../cases.ts";
import type { Tensor, Tensors } from "../safetensors.ts";
import type { BenchImpl, Workload } from "./types.ts";

const version = (() => {
  const require = createRequire(import.meta.url);
  const dist = require.resolve("@jax-js/jax"); // …/@jax-js/jax/dist/index.cjs
  return (JSON.parse(readFileSync(new URL("../package.json", `file://${dist}`), "utf8")) as { version: string })
    .version;
})();

/** HF names → arrays; Linear kernels as [in, out] (the flax Dense layout), so a Linear is x @ W + b. */
type Params = Record<string, np.Array>;

const isKernel = (name: string) => name.endsWith(".weight") && !name.startsWith("layernorm");
const fromHost = (t: Tensor): np.Array => np.array(t.data).reshape(t.shape);
async function toHost(a: np.Array): Promise<Tensor> {
  const shape = [...a.shape];
  return { shape, data: (await a.data()) as Float32Array };
}

function need(tensors: Tensors, name: string): Tensor {
  const t = tensors.get(name);
  if (!t) throw new Error(`jax-js: the case data has no tensor "${name}"`);
  return t;
}

const linear = (x: np.Array, p: Params, name: string) => np.matmul(x, p[`${name}.weight`]).add(p[`${name}.bias`]);

const layerNorm = (x: np.Array, p: Params, name: string, eps: number) =>
  nn.standardize(x, -1, { epsilon: eps }).mul(p[`${name}.weight`]).add(p[`${name}.bias`]);

/** HF ViTMAELayer: h = x + Wo·Attn(LN1(x)); out = h + W2·gelu(W1·LN2(h)). x: [B, T, D] → [B, T, D]. */
function block(s: BlockShape, p: Params, x: np.Array): np.Array {
  const { batch: B, tokens: T, hidden: D, heads: H } = s;
  const hd = D / H;
  const toHeads = (t: np.Array) => t.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]); // [B, H, T, hd]
  const n1 = layerNorm(x.ref, p, "layernorm_before", s.eps);
  const q = toHeads(linear(n1.ref, p, "attention.attention.query"));
  const k = toHeads(linear(n1.ref, p, "attention.attention.key"));
  const v = toHeads(linear(n1, p, "attention.attention.value"));
  const probs = nn.softmax(np.matmul(q, k.transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(hd)), -1); // [B, H, T, T]
  const ctx = np.matmul(probs, v).transpose([0, 2, 1, 3]).reshape([B, T, D]);
  const h = x.add(linear(ctx, p, "attention.output.dense"));
  const mlp = nn.gelu(linear(layerNorm(h.ref, p, "layernorm_after", s.eps), p, "intermediate.dense"), {
    approximate: false,
  });
  return h.add(linear(mlp, p, "output.dense"));
}

function matmulWorkload(tensors: Tensors): Workload {
  const a = fromHost(need(tensors, "a"));
  const b = fromHost(need(tensors, "b"));
  const mm = jit((x: np.Array, y: np.Array) => np.matmul(x, y));
  return {
    async check() {
      return new Map([["out", await toHost(mm(a.ref, b.ref))]]);
    },
    async step() {
      const out = await blockUntilReady(mm(a.ref, b.ref));
      out.dispose();
    },
  };
}

function blockWorkload(spec: CaseSpec, tensors: Tensors): Workload {
  const shape = spec.block!;
  const params: Params = {};
  for (const [name, t] of tensors) {
    if (name === "x" || name === "g") continue;
    params[name] = isKernel(name) ? fromHost(t).transpose() : fromHost(t);
  }
  const x = fromHost(need(tensors, "x"));
  const g = fromHost(need(tensors, "g"));
  const forward = jit((p: Params, xIn: np.Array) => block(shape, p, xIn));
  // loss = sum(out · g): the block's VJP against the cotangent g.
  const lossAndGrads = jit(
    valueAndGrad((p: Params, xIn: np.Array, gIn: np.Array) => np.sum(block(shape, p, xIn).mul(gIn)), {
      argnums: [0, 1],
    }),
  );

  if (spec.kind === "block-fwd") {
    return {
      async check() {
        return new Map([["out", await toHost(forward(tree.ref(params), x.ref))]]);
      },
      async step() {
        const out = await blockUntilReady(forward(tree.ref(params), x.ref));
        out.dispose();
      },
    };
  }
  return {
    async check() {
      const [loss, [gp, gx]] = lossAndGrads(tree.ref(params), x.ref, g.ref);
      const out: Tensors = new Map([
        ["loss", await toHost(loss)],
        ["grad.x", await toHost(gx)],
      ]);
      for (const [name, grad] of Object.entries(gp)) {
        out.set(`grad.${name}`, await toHost(isKernel(name) ? grad.transpose() : grad));
      }
      return out;
    },
    async step() {
      const result = await blockUntilReady(lossAndGrads(tree.ref(params), x.ref, g.ref));
      tree.dispose(result);
    },
  };
}

/** jax-js on one of its devices: "wasm" (CPU) or "webgpu" (a GPU; in Node through ../shared/device/webgpu-node.mjs). */
function jaxJsOn(device: "wasm" | "webgpu"): BenchImpl {
  return {
    name: device === "wasm" ? "jax-js-wasm" : "jax-js-webgpu",
    version,
    // Its wasm device spreads kernels over Web Workers only where `Worker` exists; Node has none globally.
    threads:
      device === "webgpu"
        ? "GPU"
        : typeof (globalThis as { Worker?: unknown }).Worker === "undefined"
          ? "1"
          : "workers",
    unsupported(kind: CaseKind) {
      return kind === "mae-step" ? "the issue times the MAE steps against PyTorch only" : null;
    },
    async prepare(spec, tensors) {
      if (!(await init(device)).includes(device)) throw new Error(`jax-js: the ${device} device failed to initialise`);
      defaultDevice(device);
      return spec.kind === "matmul" ? matmulWorkload(tensors) : blockWorkload(spec, tensors);
    },
  };
}

export const jaxJsWasm: BenchImpl = jaxJsOn("wasm");
export const jaxJsWebgpu: BenchImpl = jaxJsOn("webgpu");
