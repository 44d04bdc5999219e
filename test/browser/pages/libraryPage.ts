// Runs in a browser page (test/browser/library.test.ts, test/browser/gpu.test.ts): each backend named
// in ?backends= (started with loadBackend: a WebGPU device is acquired asynchronously) held to the
// reference backend on the generated op cases of test/helpers/backendConformance.ts (fast-check,
// ?seed= and ?runs=), then the Hugging Face cases of ?cases= (default tiny, fetched from /hf/NAME/)
// run forward and backward on that backend — eagerly, and with ?jit=1 also compiled with jit —
// every output and gradient compared by the case's tolerances.
import fc from "fast-check";
import * as T from "../../../src/core/index.ts";
import type { Tensor } from "../../../src/core/index.ts";
import { valueAndGrad } from "../../../src/autodiff/index.ts";
import { jit } from "../../../src/jit/index.ts";
import { cpuReady, cpuThreads } from "../../../src/core/backends/cpu/cpuBackend.ts";
import { parseSafetensors, type SafeTensor } from "../../../src/io/safetensors.ts";
import { preTrainingFromBytes } from "../../../src/mae/checkpoint.ts";
import { forward, type PreTrainingOutput } from "../../../src/mae/forward.ts";
import { namedParameters, type PreTrainingParams } from "../../../src/mae/params.ts";
import { conformanceProperties } from "../../helpers/backendConformance.ts";
import { parityFailures, values, type CaseJson } from "../../helpers/parity.ts";
import { reportResult } from "../../helpers/pageResult.ts";

const query = new URLSearchParams(location.search);
const backends = (query.get("backends") ?? "cpu").split(",");
const numRuns = Number(query.get("runs") ?? 20);
const caseNames = (query.get("cases") ?? "tiny").split(",");
const withJit = query.get("jit") === "1";
fc.configureGlobal({ seed: Number(query.get("seed") ?? Date.now()) });

interface HfCase {
  name: string;
  json: CaseJson;
  config: string;
  model: Uint8Array;
  io: Map<string, SafeTensor>;
}

async function fetchCase(name: string): Promise<HfCase> {
  const get = async (file: string) => {
    const res = await fetch(`/hf/${name}/${file}`);
    if (!res.ok) throw new Error(`GET /hf/${name}/${file}: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const [json, config, model, io] = await Promise.all(
    ["case.json", "config.json", "model.safetensors", "io.safetensors"].map(get),
  );
  return { name, json: JSON.parse(text(json)), config: text(config), model, io: parseSafetensors(io).tensors };
}

/** The case's forward and gradients (params and pixels) on `backend`: what fails its tolerances. */
async function hfParity(c: HfCase, backend: string, compiled = false): Promise<string[]> {
  const previous = T.backend().name;
  T.setBackend(backend);
  try {
    const { config, params } = preTrainingFromBytes(c.config, c.model);
    const input = (name: string) => T.fromArray(values(c.io.get(name)!), c.io.get(name)!.shape);
    const opts = {
      noise: input("noise"),
      outputHiddenStates: c.json.flags.output_hidden_states,
      outputAttentions: c.json.flags.output_attentions,
    };
    const run = (p: PreTrainingParams, x: Tensor) => {
      const r = forward(p, config, x, opts);
      return [r.loss, r] as [Tensor, PreTrainingOutput];
    };
    const grads = (p: PreTrainingParams, x: Tensor) => valueAndGrad(run, { argnums: [0, 1], hasAux: true })(p, x);
    const [, [gParams, gPixels], aux] = (compiled ? jit(grads) : grads)(params, input("pixel_values"));
    const r = aux as PreTrainingOutput;
    const named: [string, Tensor][] = [
      ["last_hidden_state", r.lastHiddenState],
      ["logits", r.logits],
      ["loss", r.loss],
      ["mask", r.mask],
      ["ids_restore", r.idsRestore],
      ...(r.hiddenStates ?? []).map((h, i): [string, Tensor] => [`hidden_states.${i}`, h]),
      ...(r.attentions ?? []).map((a, i): [string, Tensor] => [`attentions.${i}`, a]),
      ...[...namedParameters(gParams as PreTrainingParams)].map(([n, g]): [string, Tensor] => [`grad.${n}`, g]),
      ["grad.pixel_values", gPixels as Tensor],
    ];
    const ours = new Map(
      await Promise.all(named.map(async ([n, t]) => [n, { shape: t.shape, data: await t.data() }] as const)),
    );
    const golden = [...c.io.keys()].filter(
      (n) => !(n === "pixel_values" || n === "noise" || n.startsWith("debug.") || n.startsWith("f64.")),
    );
    const missing = [...ours.keys()].filter((n) => !c.io.has(n)).map((n) => `${n}: not in the case`);
    return [...parityFailures(c, ours, golden).failures, ...missing];
  } finally {
    T.setBackend(previous);
  }
}

reportResult(async () => {
  await cpuReady();
  const cases = await Promise.all(caseNames.map(fetchCase));
  const results: Record<string, unknown> = {};
  for (const name of backends) {
    const started = performance.now();
    await T.loadBackend(name);
    const properties: { name: string; error: string | null }[] = [];
    for (const p of conformanceProperties(name, { numRuns })) {
      try {
        await p.run();
        properties.push({ name: p.name, error: null });
      } catch (error) {
        properties.push({ name: p.name, error: String((error as Error).message ?? error) });
      }
    }
    const hf: Record<string, string[]> = {};
    for (const c of cases) {
      hf[c.name] = await hfParity(c, name);
      if (withJit) hf[`${c.name} (jit)`] = await hfParity(c, name, true);
    }
    results[name] = { properties, hf, seconds: (performance.now() - started) / 1000 };
  }
  return { threads: cpuThreads(), crossOriginIsolated, backends: results };
});
