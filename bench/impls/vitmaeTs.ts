// impl "vitmae-ts": our own library on each bench case, written as a user of its public API would.
// (The CPU backend: wasm SIMD GEMM over both cores, fused softmax / layerNorm / GELU.)
import * as T from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import { gemmInfo } from "../../src/core/wasm/gemm.ts";
import { getOrThrow, parseConfig } from "../../src/mae/config.ts";
import { forward } from "../../src/mae/forward.ts";
import {
  FROZEN_PARAMETERS,
  namedParameters,
  parametersFromNamed,
  type PreTrainingParams,
} from "../../src/mae/params.ts";
import { activation } from "../../src/nn/activation.ts";
import { adamwStep, initAdamW } from "../../src/nn/adamw.ts";
import { block, type BlockParams } from "../../src/nn/block.ts";
import type { CaseKind, CaseSpec } from "../cases.ts";
import type { Tensors } from "../safetensors.ts";
import type { BenchImpl, Workload } from "./types.ts";

type Host = { shape: number[]; data: Float32Array };

function need(tensors: Tensors, name: string): T.Tensor {
  const t = tensors.get(name) as Host | undefined;
  if (!t) throw new Error(`vitmae-ts: the case data has no tensor "${name}"`);
  return T.fromArray(t.data, t.shape);
}

const host = (t: T.Tensor): Host => ({ shape: [...t.shape], data: t.toArray() });

/** Nested params from dotted names ("attention.attention.query.weight" → p.attention.attention.query.weight). */
function nest(tensors: Tensors, names: readonly string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const name of names) {
    const parts = name.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = need(tensors, name);
  }
  return root;
}

function matmulCase(_spec: CaseSpec, tensors: Tensors): Workload {
  const a = need(tensors, "a");
  const b = need(tensors, "b");
  return {
    check: async () => new Map([["out", host(T.matmul(a, b))]]),
    step: async () => void T.matmul(a, b),
  };
}

function blockCase(spec: CaseSpec, tensors: Tensors): Workload {
  const shape = spec.block!;
  const names = [...tensors.keys()].filter((n) => n !== "x" && n !== "g");
  const params = nest(tensors, names) as unknown as BlockParams;
  const x = need(tensors, "x");
  const g = need(tensors, "g");
  const opts = { heads: shape.heads, eps: shape.eps, act: activation("gelu") };
  if (spec.kind === "block-fwd") {
    return {
      check: async () => new Map([["out", host(block(params, x, opts).out)]]),
      step: async () => void block(params, x, opts).out,
    };
  }
  const lossAndGrads = valueAndGrad((p: BlockParams, input: T.Tensor) => T.sum(T.mul(block(p, input, opts).out, g)), {
    argnums: [0, 1],
  });
  return {
    check: async () => {
      const [loss, [gp, gx]] = lossAndGrads(params, x);
      const out = new Map<string, Host>([
        ["loss", host(loss)],
        ["grad.x", host(gx)],
      ]);
      for (const [name, t] of namedParameters(gp)) out.set(`grad.${name}`, host(t));
      return out;
    },
    step: async () => void lossAndGrads(params, x),
  };
}

function maeCase(spec: CaseSpec, tensors: Tensors): Workload {
  const { config: hf, optimizer } = spec.mae!;
  const config = getOrThrow(parseConfig({ ...hf, model_type: "vit_mae" }, "bench case"));
  const names = [...tensors.keys()].filter((n) => n !== "pixel_values" && n !== "noise");
  const params = parametersFromNamed<PreTrainingParams>(config, new Map(names.map((n) => [n, need(tensors, n)])));
  const pixels = need(tensors, "pixel_values");
  const noise = need(tensors, "noise");
  const noDecay = new Set(optimizer.noDecay);
  const frozen = new Set<string>([...FROZEN_PARAMETERS, ...optimizer.frozen]);
  const lossAndGrad = valueAndGrad((p: PreTrainingParams) => forward(p, config, pixels, { noise }).loss);
  const named = namedParameters(params);
  const opt = initAdamW(named);
  // One pre-training step: forward, backward, AdamW update.
  const trainStep = () => {
    const [loss, grads] = lossAndGrad(params);
    const g = namedParameters(grads);
    const updated = adamwStep(
      named,
      g,
      opt,
      { betas: [optimizer.beta1, optimizer.beta2], eps: optimizer.eps, weightDecay: optimizer.weightDecay },
      {
        lr: optimizer.lr,
        decay: (name) => !noDecay.has(name),
        frozen,
        donateState: true, // as a training loop does (torch updates in place too)
      },
    );
    return { loss, g, updated: updated.params };
  };
  return {
    check: async () => {
      const { loss, g, updated } = trainStep();
      const out = new Map<string, Host>([["loss", host(loss)]]);
      for (const [name, t] of g) out.set(`grad.${name}`, host(t));
      for (const [name, t] of updated) out.set(`delta.${name}`, host(T.sub(t, named.get(name)!)));
      return out;
    },
    step: async () => void trainStep(),
  };
}

export const vitmaeTs: BenchImpl = {
  name: "vitmae-ts",
  version: "0.1.0",
  threads: String(gemmInfo().threads),
  unsupported(_kind: CaseKind): string | null {
    return null;
  },
  async prepare(spec, tensors) {
    if (spec.kind === "matmul") return matmulCase(spec, tensors);
    if (spec.kind === "mae-step") return maeCase(spec, tensors);
    return blockCase(spec, tensors);
  },
};
