// The golden Hugging Face cases (test/fixtures/hf) on a GPU backend: every case's outputs and
// gradients, run eagerly and compiled with jit, compared by the fixtures' README rule (mask and
// ids_restore exactly; every other tensor within case.json's suggested_atol). Prints one JSON line
// per (case, mode) and exits 1 on any failure. bench/gpu/device.sh runs it before timing anything.
//
//   node --import tsx bench/gpu/parity.ts [--backend gpujs:webgpu]

import { parseArgs } from "node:util";
import * as T from "../../src/core/index.ts";
import { loadPreTraining } from "../../src/mae/index.ts";
import { goldenNames, hfOutputs, parityFailures } from "../../test/helpers/parity.ts";
import { loadReferenceCase, referenceCaseNames, type ReferenceCase } from "../../test/helpers/reference.ts";

/** What misses its tolerance, one line each (empty: the case passes). */
async function check(c: ReferenceCase, useJit: boolean): Promise<string[]> {
  const { config, params } = loadPreTraining(c.modelDir);
  return parityFailures(c, await hfOutputs(c, config, params, useJit), goldenNames(c)).failures;
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
