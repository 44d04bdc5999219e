// impls "vitmae-ts" (the cpu backend) and "vitmae-ts-webgpu" (gpujs:webgpu): our own library on each
// bench case, written as a user of its public API would: the block and the training step compiled
// with jit (buffers reused by liveness, elementwise chains fused), the training step's parameters and
// optimizer state donated, as a training loop does. A GPU queues its work: a step is done when the
// backend's flush resolves (or its loss is read).
import * as T from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import { jit } from "../../src/jit/index.ts";
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
import { adamwStep, initAdamW, type AdamWState } from "../../src/nn/adamw.ts";
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

const host = async (t: T.Tensor): Promise<Host> => ({ shape: [...t.shape], data: await t.data() });

/** Resolves once every kernel launched so far has run (a no-op on backends that compute eagerly). */
const settled = async () => void (await T.backend().flush?.());

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
    check: async () => new Map([["out", await host(T.matmul(a, b))]]),
    step: async () => {
      T.matmul(a, b);
      await settled();
    },
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
      check: async () => new Map([["out", await host(block(params, x, opts).out)]]),
      step: async () => {
        block(params, x, opts);
        await settled();
      },
    };
  }
  const lossAndGrads = jit(
    valueAndGrad((p: BlockParams, input: T.Tensor) => T.sum(T.mul(block(p, input, opts).out, g)), {
      argnums: [0, 1],
    }),
  );
  return {
    check: async () => {
      const [loss, [gp, gx]] = lossAndGrads(params, x);
      const out = new Map<string, Host>([
        ["loss", await host(loss)],
        ["grad.x", await host(gx)],
      ]);
      for (const [name, t] of namedParameters(gp)) out.set(`grad.${name}`, await host(t));
      return out;
    },
    step: async () => {
      lossAndGrads(params, x);
      await settled();
    },
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
  const adamw = {
    betas: [optimizer.beta1, optimizer.beta2] as [number, number],
    eps: optimizer.eps,
    weightDecay: optimizer.weightDecay,
  };
  const decay = (name: string) => !noDecay.has(name);
  const checkedGrads = spec.checks.filter((n) => n.startsWith("grad.")).map((n) => n.slice("grad.".length));
  // One pre-training step — forward, backward, AdamW update — compiled once, the parameters and the
  // optimizer state donated (updated in place), as a training loop does (torch updates in place too).
  // It also returns the few gradients the check compares (small), so check and timing share one plan.
  const trainStep = jit(
    (p: PreTrainingParams, opt: AdamWState, lr: T.Tensor) => {
      const [loss, grads] = lossAndGrad(p);
      const g = namedParameters(grads);
      const updated = adamwStep(namedParameters(p), g, opt, adamw, { lr, decay, frozen });
      const next = parametersFromNamed<PreTrainingParams>(config, updated.params);
      return { loss, params: next, opt: updated.state, checked: checkedGrads.map((n) => g.get(n)!) };
    },
    { donate: [0, 1] },
  );
  const lr = T.scalar(optimizer.lr);
  let state = { params, opt: initAdamW(namedParameters(params)) };
  const run = () => {
    const out = trainStep(state.params, state.opt, lr);
    state = { params: out.params, opt: out.opt };
    return out;
  };
  return {
    check: async () => {
      // The check is the first step: the updates of the compared parameters are after − before.
      const deltas = spec.checks.filter((n) => n.startsWith("delta.")).map((n) => n.slice("delta.".length));
      const params0 = namedParameters(state.params);
      const before = new Map(await Promise.all(deltas.map(async (n) => [n, await params0.get(n)!.data()] as const)));
      const out = run();
      const result = new Map<string, Host>([["loss", await host(out.loss)]]);
      for (const [i, n] of checkedGrads.entries()) result.set(`grad.${n}`, await host(out.checked[i]));
      const after = namedParameters(state.params);
      for (const [n, b] of before) {
        const a = after.get(n)!;
        result.set(`delta.${n}`, { shape: [...a.shape], data: (await a.data()).map((v, i) => v - b[i]) });
      }
      return result;
    },
    step: async () => {
      await run().loss.data(); // done when its value can be read (GPUs queue work)
    },
  };
}

/** Our library on the named backend (null: the default one, the cpu backend). */
function vitmaeTsOn(backend: string | null): BenchImpl {
  return {
    name: backend === null ? "vitmae-ts" : "vitmae-ts-webgpu",
    version: "0.1.0",
    threads: backend === null ? String(gemmInfo().threads) : "GPU",
    unsupported(_kind: CaseKind): string | null {
      return null;
    },
    async prepare(spec, tensors) {
      if (backend !== null) T.setBackend((await T.loadBackend(backend)).name);
      if (spec.kind === "matmul") return matmulCase(spec, tensors);
      if (spec.kind === "mae-step") return maeCase(spec, tensors);
      return blockCase(spec, tensors);
    },
  };
}

export const vitmaeTs: BenchImpl = vitmaeTsOn(null);
export const vitmaeTsWebgpu: BenchImpl = vitmaeTsOn("gpujs:webgpu");
