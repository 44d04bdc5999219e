// Parity with Hugging Face ViTMAE on every golden case in test/fixtures/hf (README "Comparing"):
// outputs, gradients, debug intermediates and the float64 forward, through the library and the CLI.

import { test, describe, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { treeMap, valueAndGrad, type Tree } from "../../src/autodiff/index.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { main } from "../../src/cli/main.ts";
import {
  decode,
  encode,
  forward,
  interpolateDecoderTable,
  loadPreTraining,
  namedParameters,
  patchify,
  type PreTrainingOutput,
  type PreTrainingParams,
} from "../../src/mae/index.ts";
import {
  ioNames,
  loadReferenceCase,
  maxAbs,
  maxAbsDiff,
  referenceCaseNames,
  repoRoot,
  values,
  type ReferenceCase,
} from "../helpers/reference.ts";
import { parityFailures, type Ours } from "../helpers/parity.ts";

const cases = referenceCaseNames();
/** Golden names that are inputs or checked separately (debug.*, f64.*), not outputs of `forward`. */
const isOutputOrGrad = (n: string) =>
  !(n === "pixel_values" || n === "noise" || n.startsWith("debug.") || n.startsWith("f64."));

const tensorOf = (c: ReferenceCase, name: string): Tensor => {
  const t = c.io.get(name);
  assert.ok(t, `case ${c.name}: io.safetensors has no tensor ${name}`);
  return T.fromArray(values(t, name), t.shape);
};

/** Compares our tensors with the golden ones by the README's rule and reports every failure at once. */
function compareAll(t: TestContext, c: ReferenceCase, ours: Ours, names: string[], where: string): void {
  const { failures, fallbacks } = parityFailures(c, ours, names);
  if (fallbacks.length)
    t.diagnostic(`${where}: no suggested_atol in case.json for ${fallbacks.join(", ")}: used 3e-5 * max|golden|`);
  assert.deepEqual(
    failures,
    [],
    `case ${c.name} (${where}): ${failures.length} tensor(s) off:\n  ${failures.join("\n  ")}`,
  );
}

const asEntry = (x: Tensor) => ({ shape: x.shape, data: x.toFloat64Array() });

/** The forward outputs by their reference-file names. */
function outputsByName(r: PreTrainingOutput): Map<string, { shape: readonly number[]; data: Float64Array }> {
  const m = new Map([
    ["last_hidden_state", asEntry(r.lastHiddenState)],
    ["logits", asEntry(r.logits)],
    ["loss", asEntry(r.loss)],
    ["mask", asEntry(r.mask)],
    ["ids_restore", asEntry(r.idsRestore)],
  ]);
  r.hiddenStates?.forEach((h, i) => m.set(`hidden_states.${i}`, asEntry(h)));
  r.attentions?.forEach((a, i) => m.set(`attentions.${i}`, asEntry(a)));
  return m;
}

test("there are reference cases to check", () => {
  assert.ok(
    cases.length > 0,
    "no case folders found under test/fixtures/hf: every parity test below would pass vacuously",
  );
});

for (const name of cases) {
  describe(`reference case ${name}`, () => {
    const c = loadReferenceCase(name);
    const flags = c.json.flags;
    const opts = () => ({
      noise: tensorOf(c, "noise"),
      outputHiddenStates: flags.output_hidden_states,
      outputAttentions: flags.output_attentions,
      interpolatePosEncoding: flags.interpolate_pos_encoding,
    });

    test("library: forward + valueAndGrad over params and pixels match every output and gradient", (t) => {
      const { config, params } = loadPreTraining(c.modelDir);
      const o = opts();
      const run = (p: PreTrainingParams, x: Tensor) => {
        const r = forward(p, config, x, o);
        return [r.loss, r] as [Tensor, PreTrainingOutput];
      };
      const [loss, [gParams, gPixels], aux] = valueAndGrad(run, { argnums: [0, 1], hasAux: true })(
        params,
        tensorOf(c, "pixel_values"),
      );
      const r = aux as PreTrainingOutput;
      assert.deepEqual(loss.shape, [], "the loss is a 0-dim tensor, as HF's");
      const ours = outputsByName(r);
      for (const [n, g] of namedParameters(gParams)) ours.set(`grad.${n}`, asEntry(g));
      ours.set("grad.pixel_values", asEntry(gPixels as Tensor));
      const golden = [...c.io.keys()].filter(isOutputOrGrad);
      compareAll(t, c, ours, golden, "library");
      // Every gradient we compute has a golden counterpart, and the other way round.
      const ourGrads = [...ours.keys()].filter((n) => n.startsWith("grad.")).sort();
      assert.deepEqual(ourGrads, ioNames(c, "grad.").sort(), "our gradient names are exactly the reference's");
    });

    test("debug intermediates exposed by encode/decode match", (t) => {
      const { config, params } = loadPreTraining(c.modelDir);
      const o = opts();
      const pixels = tensorOf(c, "pixel_values");
      const e = encode(params.vit, config, pixels, o);
      const d = decode(params.decoder, config, e.lastHiddenState, e.idsRestore, {
        interpolatePosEncoding: o.interpolatePosEncoding,
      });
      const decTable = T.reshape(params.decoder.decoder_pos_embed, params.decoder.decoder_pos_embed.shape.slice(1));
      const withBatch1 = (x: Tensor) => ({ shape: [1, ...x.shape], data: x.toFloat64Array() }); // HF keeps the leading 1
      const ours = new Map([
        ["debug.patch_embeddings", asEntry(e.patchEmbeddings)],
        ["debug.decoder_embed_out", asEntry(d.embedded)],
        ["debug.decoder_input", asEntry(d.input)],
        ["debug.decoder_norm_out", asEntry(d.normed)],
        ["debug.patchified_pixel_values", asEntry(patchify(pixels, config.patchSize))],
        ["debug.encoder_pos_embed_used", withBatch1(e.positions)],
        [
          "debug.decoder_pos_embed_used",
          withBatch1(o.interpolatePosEncoding ? interpolateDecoderTable(decTable, e.idsRestore.shape[1]) : decTable),
        ],
      ]);
      const present = ioNames(c, "debug.");
      const unknown = present.filter((n) => !ours.has(n));
      if (unknown.length) t.diagnostic(`debug tensors the API does not expose (not compared): ${unknown.join(", ")}`);
      compareAll(
        t,
        c,
        ours,
        present.filter((n) => ours.has(n)),
        "debug",
      );
    });

    test("float64 forward matches HF's pure-float64 run to 1e-9 relative", () => {
      const { config, params } = loadPreTraining(c.modelDir);
      const got = T.withFloat64(() => {
        const p64 = treeMap(
          (x: Tensor) => T.fromArray(x.toFloat64Array(), x.shape),
          params as unknown as Tree,
        ) as unknown as PreTrainingParams;
        const o = opts();
        const r = forward(p64, config, tensorOf(c, "pixel_values"), {
          ...o,
          outputHiddenStates: false,
          outputAttentions: false,
        });
        assert.equal(r.logits.dtype, "float64", "withFloat64 must compute in float64");
        return {
          loss: r.loss.toFloat64Array(),
          logits: r.logits.toFloat64Array(),
          last_hidden_state: r.lastHiddenState.toFloat64Array(),
        };
      });
      for (const key of ["loss", "logits", "last_hidden_state"] as const) {
        const golden = values(c.io.get(`f64.${key}`)!);
        const rel = maxAbsDiff(got[key], golden) / maxAbs(golden);
        assert.ok(rel <= 1e-9, `f64.${key}: max |diff| / max |golden| = ${rel}, want <= 1e-9`);
      }
    });

    test("CLI (in-process main): forward --grads --hidden-states --attentions writes the same tensors", async (t) => {
      const dir = mkdtempSync(path.join(tmpdir(), "vitmae-ref-"));
      try {
        const out = path.join(dir, "out.safetensors");
        const argv = [
          "forward",
          "--model",
          c.modelDir,
          "--inputs",
          path.join(c.dir, "io.safetensors"),
          "--out",
          out,
          "--grads",
          "--hidden-states",
          "--attentions",
        ];
        if (flags.interpolate_pos_encoding) argv.push("--interpolate-pos-encoding");
        const log = t.mock.method(console, "log", () => {});
        const err = t.mock.method(console, "error", () => {});
        const code = await main(argv);
        log.mock.restore();
        err.mock.restore();
        assert.equal(
          code,
          0,
          `vitmae ${argv.join(" ")} failed: ${err.mock.calls.map((k) => k.arguments.join(" ")).join("; ")}`,
        );
        const written = readSafetensorsFile(out).tensors;
        assert.equal(written.get("ids_restore")?.dtype, "I64", "ids_restore is written as I64, as HF's");
        assert.equal(written.get("mask")?.dtype, "F32");
        assert.deepEqual(written.get("loss")?.shape, [], "loss is a 0-dim tensor");
        const ours = new Map([...written].map(([n, s]) => [n, { shape: s.shape, data: values(s, n) }]));
        compareAll(t, c, ours, [...c.io.keys()].filter(isOutputOrGrad), "CLI file");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

test("the bin shim: a real `node bin/vitmae.mjs forward` matches the first case", { skip: cases.length === 0 }, (t) => {
  const c = loadReferenceCase(cases.includes("tiny") ? "tiny" : cases[0]);
  const dir = mkdtempSync(path.join(tmpdir(), "vitmae-bin-"));
  try {
    const out = path.join(dir, "out.safetensors");
    const args = [
      "bin/vitmae.mjs",
      "forward",
      "--model",
      c.modelDir,
      "--inputs",
      path.join(c.dir, "io.safetensors"),
      "--out",
      out,
      "--hidden-states",
      "--attentions",
    ];
    if (c.json.flags.interpolate_pos_encoding) args.push("--interpolate-pos-encoding");
    const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `bin/vitmae.mjs exited ${r.status}: ${r.stderr}`);
    assert.match(r.stdout, /wrote \d+ tensors/);
    const written = readSafetensorsFile(out).tensors;
    assert.equal(written.get("ids_restore")?.dtype, "I64");
    const ours = new Map([...written].map(([n, s]) => [n, { shape: s.shape, data: values(s, n) }]));
    const outputs = [...c.io.keys()].filter((n) => isOutputOrGrad(n) && !n.startsWith("grad."));
    compareAll(t, c, ours, outputs, "bin shim");
    assert.ok(![...written.keys()].some((n) => n.startsWith("grad.")), "without --grads no gradients are written");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
