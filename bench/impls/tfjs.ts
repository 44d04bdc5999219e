// The TensorFlow.js peers: tfjs-cpu, tfjs-wasm (stock gradients) and tfjs-wasm-tuned (no transpose flags).
import * as tf from "@tensorflow/tfjs";
import type { CaseKind, CaseSpec } from "../cases.ts";
import type { Tensor, Tensors } from "../safetensors.ts";
import { BLOCK_PARAM_NAMES, blockForward, type MatMulStyle } from "./tfjsBlock.ts";
import type { BenchImpl, Workload } from "./types.ts";

export type TfjsVariant = "cpu" | "wasm" | "wasm-tuned" | "webgpu";

/** tfjs's WebGPU backend: not a dependency of the project (the device bench packs it; bench/gpu/README.md). */
const TFJS_WEBGPU = "@tensorflow/tfjs-backend-webgpu";

async function useBackend(variant: TfjsVariant): Promise<string> {
  if (variant === "webgpu") {
    await import(TFJS_WEBGPU);
    if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs: the webgpu backend failed to initialise");
    await tf.ready();
    return "GPU";
  }
  if (variant === "cpu") {
    await tf.setBackend("cpu");
    await tf.ready();
    return "1";
  }
  // In Node the wasm backend finds its .wasm files next to its own dist/ files.
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs: the wasm backend failed to initialise");
  await tf.ready();
  return String(wasm.getThreadsCount());
}

const fromHost = (t: Tensor): tf.Tensor => tf.tensor(t.data, t.shape);
const toHost = async (t: tf.Tensor): Promise<Tensor> => ({
  shape: [...t.shape],
  data: (await t.data()) as Float32Array,
});
/** Waits until `t` is computed (GPU backends queue their work): one element read back. */
async function settled(t: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

function need(tensors: Tensors, name: string): Tensor {
  const t = tensors.get(name);
  if (!t) throw new Error(`tfjs: the case data has no tensor "${name}"`);
  return t;
}

function matmulWorkload(tensors: Tensors): Workload {
  const a = fromHost(need(tensors, "a"));
  const b = fromHost(need(tensors, "b"));
  return {
    async check() {
      const out = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
      const host = await toHost(out);
      out.dispose();
      return new Map([["out", host]]);
    },
    async step() {
      // The cpu and wasm backends compute eagerly; webgpu queues, so wait for the product.
      const out = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
      if (tf.getBackend() === "webgpu") await settled(out);
      out.dispose();
    },
  };
}

/** Linear kernels are loaded as [in, out] (the tfjs-layers layout); their gradients go back to HF's [out, in]. */
const isKernel = (name: string) => name.endsWith(".weight") && !name.startsWith("layernorm");

function blockWorkload(spec: CaseSpec, tensors: Tensors, style: MatMulStyle): Workload {
  const shape = spec.block!;
  const params = BLOCK_PARAM_NAMES.map((name) =>
    isKernel(name) ? tf.tidy(() => tf.transpose(fromHost(need(tensors, name)))) : fromHost(need(tensors, name)),
  );
  const x = fromHost(need(tensors, "x"));
  const g = fromHost(need(tensors, "g"));
  const forward = (xIn: tf.Tensor, ...ps: tf.Tensor[]) => blockForward(style, shape, xIn, ps);
  // loss = sum(out · g), so d loss / d out = g: the block's VJP against the cotangent g.
  const lossAndGrads = tf.valueAndGrads((xIn: tf.Tensor, ...ps: tf.Tensor[]) => tf.sum(tf.mul(forward(xIn, ...ps), g)));

  if (spec.kind === "block-fwd") {
    return {
      async check() {
        const out = forward(x, ...params);
        const host = await toHost(out);
        tf.dispose(out);
        return new Map([["out", host]]);
      },
      async step() {
        const out = tf.tidy(() => forward(x, ...params));
        if (tf.getBackend() === "webgpu") await settled(out);
        tf.dispose(out);
      },
    };
  }
  return {
    async check() {
      const [value, gradX, ...gradParams] = tf.tidy(() => {
        const { value, grads } = lossAndGrads([x, ...params]);
        const hfLayout = BLOCK_PARAM_NAMES.map((name, i) =>
          isKernel(name) ? tf.transpose(grads[i + 1]) : grads[i + 1],
        );
        return [value, grads[0], ...hfLayout];
      });
      const out: Tensors = new Map([
        ["loss", await toHost(value)],
        ["grad.x", await toHost(gradX)],
      ]);
      for (const [i, name] of BLOCK_PARAM_NAMES.entries()) out.set(`grad.${name}`, await toHost(gradParams[i]));
      tf.dispose([value, gradX, ...gradParams]);
      return out;
    },
    async step() {
      const kept = tf.tidy(() => {
        const { value, grads } = lossAndGrads([x, ...params]);
        return [value, ...grads];
      });
      if (tf.getBackend() === "webgpu") await settled(kept[kept.length - 1]); // the last gradient computed
      tf.dispose(kept);
    },
  };
}

export function tfjsImpl(variant: TfjsVariant): BenchImpl {
  let threads = "1";
  return {
    name: `tfjs-${variant}` as const,
    version: tf.version.tfjs,
    get threads() {
      return threads;
    },
    unsupported(kind: CaseKind) {
      return kind === "mae-step" ? "the issue times the MAE steps against PyTorch only" : null;
    },
    async prepare(spec, tensors) {
      threads = await useBackend(variant);
      if (spec.kind === "matmul") return matmulWorkload(tensors);
      return blockWorkload(spec, tensors, variant === "wasm-tuned" ? "tuned" : "stock");
    },
  };
}
