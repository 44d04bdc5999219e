// Where one ViT-MAE-Base pre-training step goes on the webgpu backend: the compiled plan's kernels
// and arena, the host time to record a step (JavaScript: the GPU waits for it), the step's wall
// time, and the GPU time per kind of kernel (timestamp queries) over one profiled step.
//
//   node --import tsx bench/gpu/profile.ts [--batch 64] [--steps 5] [--json FILE]

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as T from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import type { WebGpuBackend } from "../../src/core/backends/webgpu/webgpuBackend.ts";
import { jit } from "../../src/jit/index.ts";
import { getOrThrow, parseConfig } from "../../src/mae/config.ts";
import { forward } from "../../src/mae/forward.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { namedParameters, parametersFromNamed, type PreTrainingParams } from "../../src/mae/params.ts";
import { adamwStep, initAdamW, type AdamWState } from "../../src/nn/adamw.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batch: { type: "string", default: "64" },
      steps: { type: "string", default: "5" },
      json: { type: "string" },
      backend: { type: "string", default: "gpujs:webgpu" },
    },
  });
  const be = (await T.loadBackend(values.backend!)) as WebGpuBackend;
  T.setBackend(be.name);
  const batch = Number(values.batch);
  const cfg = getOrThrow(parseConfig({ model_type: "vit_mae" }, "ViT-MAE-Base"));
  const params = initPreTraining(T.key(0), cfg);
  const pixels = T.random.normal(T.key(1), [batch, cfg.numChannels, cfg.imageSize[0], cfg.imageSize[1]]);
  const adamw = { betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0.05 };
  const step = jit(
    (p: PreTrainingParams, opt: AdamWState, lr: T.Tensor, key: T.Key) => {
      const [loss, grads] = valueAndGrad((q: PreTrainingParams) => forward(q, cfg, pixels, { key }).loss)(p);
      const u = adamwStep(namedParameters(p), namedParameters(grads), opt, adamw, { lr, decay: () => true });
      return { loss, params: parametersFromNamed<PreTrainingParams>(cfg, u.params), opt: u.state };
    },
    { donate: [0, 1] },
  );
  let state = { params, opt: initAdamW(namedParameters(params)) };
  const lr = T.scalar(1.5e-4);
  const steps: { recordMs: number; totalMs: number; loss: number }[] = [];
  const profiled = be.queue.gpu.timestamps;
  for (let i = 0; i < Number(values.steps); i++) {
    const last = i === Number(values.steps) - 1;
    if (last && profiled) be.queue.startProfile();
    const t0 = performance.now();
    const out = step(state.params, state.opt, lr, T.random.foldIn(T.key(2), i));
    const t1 = performance.now();
    const loss = (await out.loss.data())[0];
    steps.push({ recordMs: t1 - t0, totalMs: performance.now() - t0, loss });
    state = { params: out.params, opt: out.opt };
    console.log(JSON.stringify({ step: i, ...steps[i], profiled: last && profiled }));
  }
  const profile = profiled ? await be.queue.stopProfile() : [];
  const gpuMs = profile.reduce((s, r) => s + r.ms, 0);
  const result = {
    backend: be.name,
    description: be.description,
    batch,
    planKernels: step.kernelCount(),
    memory: step.memory(),
    steps,
    profile: profile.map((r) => ({ ...r, share: r.ms / gpuMs })),
    profiledGpuMs: gpuMs,
  };
  for (const r of result.profile)
    console.log(
      `${r.label.padEnd(22)} ${String(r.count).padStart(6)} ${r.ms.toFixed(2).padStart(10)} ms ${(100 * r.share).toFixed(1).padStart(5)}%`,
    );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
