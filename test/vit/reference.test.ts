// Parity with Hugging Face's ViTForImageClassification on every case in test/fixtures/hf-vit (its README):
// logits, loss, hidden states, attentions, every gradient and the float64 forward; the encoder of a ViTMAE
// checkpoint loaded as transformers loads it.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { treeMap, valueAndGrad, type Tree } from "../../src/autodiff/index.ts";
import type { SafeTensor } from "../../src/io/safetensors.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { namedParameters } from "../../src/mae/params.ts";
import { crossEntropy } from "../../src/nn/crossEntropy.ts";
import { classify, loadClassifier, type ClassifierOutput, type ClassifierParams } from "../../src/vit/index.ts";
import { maxAbs, maxAbsDiff, repoRoot, values } from "../helpers/reference.ts";

const casesDir = path.join(repoRoot, "test/fixtures/hf-vit");
const caseNames = existsSync(casesDir)
  ? readdirSync(casesDir).filter((n) => existsSync(path.join(casesDir, n, "case.json")))
  : [];

interface VitCase {
  dir: string;
  json: { tolerance: { per_tensor_f32_vs_f64: Record<string, { suggested_atol: number }> }; num_labels: number };
  io: Map<string, SafeTensor>;
}
const load = (name: string): VitCase => {
  const dir = path.join(casesDir, name);
  return {
    dir,
    json: JSON.parse(readFileSync(path.join(dir, "case.json"), "utf8")),
    io: readSafetensorsFile(path.join(dir, "io.safetensors")).tensors,
  };
};
const tensorOf = (c: VitCase, name: string): Tensor => {
  const t = c.io.get(name);
  assert.ok(t, `${c.dir}: io.safetensors has no ${name}`);
  return T.fromArray(values(t, name), t.shape);
};
const labelsOf = (c: VitCase) => Array.from(values(c.io.get("labels")!, "labels"));

/** Every golden tensor against ours by its suggested_atol; all failures reported at once. */
function compareAll(c: VitCase, ours: Map<string, Tensor>, names: string[]): void {
  const failures: string[] = [];
  for (const name of names) {
    const mine = ours.get(name);
    const golden = values(c.io.get(name)!, name);
    if (!mine) failures.push(`${name}: not produced`);
    else if (mine.shape.join() !== c.io.get(name)!.shape.join())
      failures.push(`${name}: shape [${mine.shape}] vs golden [${c.io.get(name)!.shape}]`);
    else {
      const diff = maxAbsDiff(mine.toFloat64Array(), golden);
      const atol = c.json.tolerance.per_tensor_f32_vs_f64[name]?.suggested_atol;
      assert.ok(atol !== undefined && atol > 0, `${name}: case.json has no suggested_atol`);
      if (!(diff <= atol))
        failures.push(
          `${name}: max |diff| ${diff.toExponential(3)} > atol ${atol.toExponential(3)} (max |golden| ${maxAbs(golden).toExponential(3)})`,
        );
    }
  }
  assert.deepEqual(failures, [], `${c.dir}: ${failures.length} tensor(s) off:\n  ${failures.join("\n  ")}`);
}

test("there are classification cases to check", () => {
  assert.deepEqual([...caseNames].sort(), ["from_mae_tiny", "tiny_cls", "tiny_meanpool"]);
});

for (const name of caseNames) {
  describe(`classification case ${name}`, () => {
    const c = load(name);

    test("logits, loss, hidden states, attentions and every gradient match", () => {
      const { config, params, newHead } = loadClassifier(c.dir);
      assert.equal(newHead, false);
      assert.equal(config.numLabels, c.json.num_labels);
      const labels = labelsOf(c);
      const run = (p: ClassifierParams, x: Tensor) => {
        const out = classify(p, config, x, { outputHiddenStates: true, outputAttentions: true });
        return [crossEntropy(out.logits, labels), out] as [Tensor, ClassifierOutput];
      };
      const [loss, [gParams, gPixels], aux] = valueAndGrad(run, { argnums: [0, 1], hasAux: true })(
        params,
        tensorOf(c, "pixel_values"),
      );
      const out = aux as ClassifierOutput;
      const ours = new Map<string, Tensor>([
        ["logits", out.logits],
        ["loss", loss],
        ["last_hidden_state", out.lastHiddenState],
        ["grad.pixel_values", gPixels as Tensor],
      ]);
      out.hiddenStates?.forEach((h, i) => ours.set(`hidden_states.${i}`, h));
      out.attentions?.forEach((a, i) => ours.set(`attentions.${i}`, a));
      for (const [n, g] of namedParameters(gParams)) ours.set(`grad.${n}`, g);
      const golden = [...c.io.keys()].filter((n) => n !== "pixel_values" && n !== "labels" && !n.startsWith("f64."));
      compareAll(c, ours, golden);
      const ourGrads = [...ours.keys()].filter((n) => n.startsWith("grad.")).sort();
      assert.deepEqual(ourGrads, golden.filter((n) => n.startsWith("grad.")).sort(), "gradient names are HF's");
    });

    test("the float64 forward matches HF's pure-float64 run to 1e-9 relative", () => {
      const { config, params } = loadClassifier(c.dir);
      const [logits, loss] = T.withFloat64(() => {
        const p64 = treeMap((x: Tensor) => T.fromArray(x.toFloat64Array(), x.shape), params as unknown as Tree);
        const x = tensorOf(c, "pixel_values");
        const out = classify(p64 as unknown as ClassifierParams, config, T.fromArray(x.toFloat64Array(), x.shape));
        return [out.logits.toFloat64Array(), crossEntropy(out.logits, labelsOf(c)).toFloat64Array()];
      });
      for (const [name, mine] of [
        ["f64.logits", logits],
        ["f64.loss", loss],
      ] as const) {
        const golden = values(c.io.get(name)!, name);
        const diff = maxAbsDiff(mine, golden);
        assert.ok(diff <= 1e-9 * maxAbs(golden), `${name}: max |diff| ${diff} > 1e-9 · ${maxAbs(golden)}`);
      }
    });
  });
}

test("a ViTMAE pre-training checkpoint loads as transformers loads it: its vit.* encoder, the decoder dropped, a new head", () => {
  const c = load("from_mae_tiny");
  const hfModel = readSafetensorsFile(path.join(c.dir, "model.safetensors")).tensors;
  const { config, params, newHead } = loadClassifier(path.join(repoRoot, "test/fixtures/hf/tiny"), { numLabels: 3 });
  assert.equal(newHead, true);
  assert.equal(config.numLabels, 3);
  assert.equal(config.useMeanPooling, false);
  const ours = namedParameters(params);
  assert.deepEqual([...ours.keys()].sort(), [...hfModel.keys()].sort(), "the same names as transformers' model");
  for (const [n, t] of ours) {
    const golden = hfModel.get(n)!;
    assert.deepEqual(t.shape, golden.shape, n);
    if (n.startsWith("vit."))
      assert.deepEqual(t.toFloat64Array(), values(golden, n), `${n} is the checkpoint's, bitwise`);
  }
  // transformers' fresh classifier weights come from torch's generator, ours from a key; both are N(0, 0.02) draws.
  const w = ours.get("classifier.weight")!.toFloat64Array();
  assert.ok(maxAbs(w) > 0 && maxAbs(w) < 0.1, "the new head is a small random init");
  assert.deepEqual([...ours.get("classifier.bias")!.toFloat64Array()], [0, 0, 0]);
  // Behind the head, our model is transformers' model: with its classifier, the logits agree.
  const hfHead = loadClassifier(c.dir).params.classifier;
  const logits = classify({ ...params, classifier: hfHead }, config, tensorOf(c, "pixel_values")).logits;
  const diff = maxAbsDiff(logits.toFloat64Array(), values(c.io.get("logits")!, "logits"));
  assert.ok(diff <= c.json.tolerance.per_tensor_f32_vs_f64.logits.suggested_atol, `logits off by ${diff}`);
});
