// Makes each case's data set once per run (seeded, so every run times the same numbers) and writes its spec.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CaseDef, type CaseSpec, maeAdamW } from "./cases.ts";
import { blockParams, maeInputs, maeParams, mulberry32, normals } from "./data.ts";
import { type Tensors, writeSafetensors } from "./safetensors.ts";

/** A stable 32-bit seed from the data set's name (FNV-1a). */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function makeTensors(def: CaseDef): Tensors {
  const u = mulberry32(seedOf(def.dataset));
  if (def.matmul) {
    const { M, K, N } = def.matmul;
    return new Map([
      ["a", { shape: [M, K], data: normals(M * K, 1, u) }],
      ["b", { shape: [K, N], data: normals(K * N, 1, u) }],
    ]);
  }
  if (def.block) {
    const { batch, tokens, hidden } = def.block;
    const t = blockParams("", def.block, u);
    t.set("x", { shape: [batch, tokens, hidden], data: normals(batch * tokens * hidden, 1, u) });
    t.set("g", { shape: [batch, tokens, hidden], data: normals(batch * tokens * hidden, 1, u) });
    return t;
  }
  if (def.mae) {
    const t = maeParams(def.mae.config, u);
    for (const e of maeInputs(def.mae.config, def.mae.batch, u)) t.set(...e);
    return t;
  }
  throw new Error(`datasets: case ${def.name} has neither matmul, block nor mae sizes`);
}

/** The run's temp folder: each data set is written once (the first case that needs it), each case spec once. */
export class DataDir {
  /** Parameter shapes per data set written, for the MAE optimizer's groups. */
  private readonly shapes = new Map<string, Map<string, number[]>>();

  constructor(readonly dir: string) {}

  /** Writes the case's data set if not yet written, and its spec file; returns the spec's path. */
  specFor(def: CaseDef): string {
    const dataPath = join(this.dir, `${def.dataset}.safetensors`);
    if (!this.shapes.has(def.dataset)) {
      const tensors = makeTensors(def);
      writeSafetensors(dataPath, tensors, { dataset: def.dataset });
      this.shapes.set(def.dataset, new Map([...tensors].map(([k, v]) => [k, v.shape])));
    }
    const { dataset, impls, ...rest } = def;
    const spec: CaseSpec = { ...rest, data: dataPath };
    if (spec.mae) {
      const shapes = this.shapes.get(dataset)!;
      const paramNames = [...shapes.keys()].filter((n) => n !== "pixel_values" && n !== "noise");
      spec.mae = { ...spec.mae, optimizer: maeAdamW(paramNames, shapes) };
    }
    const specPath = join(this.dir, `${def.name}.json`);
    writeFileSync(specPath, JSON.stringify(spec, null, 1));
    return specPath;
  }
}
