// The golden Hugging Face cases (test/fixtures/hf) on a GPU backend: every case's outputs and
// gradients, run eagerly and compiled with jit, compared by the fixtures' README rule (mask and
// ids_restore exactly; every other tensor within case.json's suggested_atol). Prints one JSON line
// per (case, mode) and exits 1 on any failure. bench/gpu/device.sh runs it before timing anything.
//
//   node --import tsx bench/gpu/parity.ts [--backend gpujs:webgpu]

import { parseArgs } from "node:util";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import { jit } from "../../src/jit/index.ts";
import { forward, loadPreTraining, namedParameters, type PreTrainingOutput } from "../../src/mae/index.ts";
import type { PreTrainingParams } from "../../src/mae/params.ts";
import {
  loadReferenceCase,
  maxAbsDiff,
  referenceCaseNames,
  toleranceOf,
  values,
  type ReferenceCase,
} from "../../test/helpers/reference.ts";

const EXACT = new Set(["mask", "ids_restore"]);

/** What misses its tolerance, one line each (empty: the case passes). */
async function check(c: ReferenceCase, useJit: boolean): Promise<string[]> {
  const { config, params } = loadPreTraining(c.modelDir);
  const input = (name: string) => T.fromArray(values(c.io.get(name)!, name), c.io.get(name)!.shape);
  const opts = {
    noise: input("noise"),
    outputHiddenStates: c.json.flags.output_hidden_states,
    outputAttentions: c.json.flags.output_attentions,
    interpolatePosEncoding: c.json.flags.interpolate_pos_encoding,
  };
  const run = (p: PreTrainingParams, x: Tensor) => {
    const r = forward(p, config, x, opts);
    return [r.loss, r] as [Tensor, PreTrainingOutput];
  };
  const grads = (p: PreTrainingParams, x: Tensor) => valueAndGrad(run, { argnums: [0, 1], hasAux: true })(p, x);
  const [, [gp, gx], aux] = (useJit ? jit(grads) : grads)(params, input("pixel_values"));
  const r = aux as PreTrainingOutput;
  const ours = new Map<string, Tensor>([
    ["last_hidden_state", r.lastHiddenState],
    ["logits", r.logits],
    ["loss", r.loss],
    ["mask", r.mask],
    ["ids_restore", r.idsRestore],
    ...(r.hiddenStates ?? []).map((h, i): [string, Tensor] => [`hidden_states.${i}`, h]),
    ...(r.attentions ?? []).map((a, i): [string, Tensor] => [`attentions.${i}`, a]),
    ...[...namedParameters(gp as PreTrainingParams)].map(([n, g]): [string, Tensor] => [`grad.${n}`, g]),
    ["grad.pixel_values", gx as Tensor],
  ]);
  const failures: string[] = [];
  for (const name of c.io.keys()) {
    if (name === "pixel_values" || name === "noise" || name.startsWith("debug.") || name.startsWith("f64.")) continue;
    if (name.startsWith("grad.") && c.json.has_grads === false) continue;
    const mine = ours.get(name);
    if (!mine) {
      failures.push(`${name}: not produced`);
      continue;
    }
    const golden = values(c.io.get(name)!, name);
    const diff = maxAbsDiff(await mine.data(), golden);
    const atol = EXACT.has(name) ? 0 : toleranceOf(c, name, golden).atol;
    if (!(diff <= atol)) failures.push(`${name}: max |diff| ${diff} > ${atol}`);
  }
  return failures;
}

async function main(): Promise<number> {
  const { values: flags } = parseArgs({ options: { backend: { type: "string", default: "gpujs:webgpu" } } });
  const be = await T.loadBackend(flags.backend!);
  T.setBackend(be.name);
  console.log(JSON.stringify({ backend: be.name, description: be.description ?? null }));
  let failed = 0;
  for (const name of referenceCaseNames()) {
    const c = loadReferenceCase(name);
    for (const useJit of [false, true]) {
      const t0 = performance.now();
      const failures = await check(c, useJit);
      failed += failures.length;
      const ms = Math.round(performance.now() - t0);
      console.log(JSON.stringify({ case: name, jit: useJit, ok: failures.length === 0, ms, failures }));
    }
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
