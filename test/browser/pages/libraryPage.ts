// Runs in a browser page (test/browser/library.test.ts, test/browser/gpu.test.ts): each backend named
// in ?backends= (started with loadBackend: a WebGPU device is acquired asynchronously) held to the
// reference backend on the generated op cases of test/helpers/backendConformance.ts (fast-check,
// ?seed= and ?runs=), then the Hugging Face cases of ?cases= (default tiny, fetched from /hf/NAME/)
// run forward and backward on that backend — eagerly, and with ?jit=1 also compiled with jit —
// every output and gradient compared by the case's tolerances.
import fc from "fast-check";
import * as T from "../../../src/core/index.ts";
import { cpuReady, cpuThreads } from "../../../src/core/backends/cpu/cpuBackend.ts";
import { parseSafetensors, type SafeTensor } from "../../../src/io/safetensors.ts";
import { preTrainingFromBytes } from "../../../src/mae/checkpoint.ts";
import { conformanceProperties } from "../../helpers/backendConformance.ts";
import { goldenNames, hfOutputs, parityFailures, type CaseJson } from "../../helpers/parity.ts";
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
    const ours = await hfOutputs(c, config, params, compiled);
    const missing = [...ours.keys()].filter((n) => !c.io.has(n)).map((n) => `${n}: not in the case`);
    return [...parityFailures(c, ours, goldenNames(c)).failures, ...missing];
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
