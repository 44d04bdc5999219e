// Hugging Face checkpoint folders: bitwise save/load round trips, the encoder part of a pre-training
// checkpoint, bare encoder checkpoints, and clear errors (by tensor name, by file) for broken ones.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isRight } from "fp-ts/lib/Either.js";
import * as T from "../../src/core/index.ts";
import "../../src/node/nodeFileSystem.ts"; // folders are read through the file-system seam, as in Node
import { SafetensorsError, type WritableTensor } from "../../src/io/safetensors.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import {
  CheckpointError,
  ConfigError,
  ParameterError,
  ViTMAEForPreTraining,
  ViTMAEModel,
  loadEncoder,
  loadNamedTensors,
  loadPreTraining,
  parameterShapes,
  parseConfig,
} from "../../src/mae/index.ts";
import { loadReferenceCase, referenceCaseNames } from "../helpers/reference.ts";

const tmp = mkdtempSync(path.join(tmpdir(), "vitmae-ckpt-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const freshDir = (label: string) => path.join(tmp, `${label}-${counter++}`);

const caseName = referenceCaseNames().includes("tiny") ? "tiny" : referenceCaseNames()[0];
const ref = loadReferenceCase(caseName);
const noise = () => T.fromArray(ref.io.get("noise")!.data as Float32Array, ref.io.get("noise")!.shape);
const pixels = () => T.fromArray(ref.io.get("pixel_values")!.data as Float32Array, ref.io.get("pixel_values")!.shape);

/** Each tensor's raw bytes, by name. */
function tensorBytes(file: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const f = readSafetensorsFile(file);
  return new Map(
    [...f.tensors].map(([n, t]) => [
      n,
      { dtype: t.dtype, shape: t.shape, bytes: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength) },
    ]),
  );
}

/** A copy of the reference checkpoint whose tensors went through `edit`. */
function editedCheckpoint(edit: (m: Map<string, WritableTensor>) => void): string {
  const dir = freshDir("edited");
  mkdirSync(dir);
  copyFileSync(path.join(ref.modelDir, "config.json"), path.join(dir, "config.json"));
  const m = new Map<string, WritableTensor>(
    [...ref.model].map(([n, t]) => [n, { dtype: "F32", shape: t.shape, data: t.data as Float32Array }]),
  );
  edit(m);
  writeSafetensorsFile(path.join(dir, "model.safetensors"), m);
  return dir;
}

test("savePretrained → fromPretrained is bitwise: every tensor's bytes equal, config parses back equal", () => {
  const model = ViTMAEForPreTraining.fromPretrained(ref.modelDir);
  const dir = freshDir("saved");
  model.savePretrained(dir);
  assert.deepEqual(readdirSync(dir).sort(), ["config.json", "model.safetensors"], "no temp files are left behind");
  const original = tensorBytes(path.join(ref.modelDir, "model.safetensors"));
  const saved = tensorBytes(path.join(dir, "model.safetensors"));
  assert.deepEqual([...saved.keys()].sort(), [...original.keys()].sort(), "the same HF names");
  for (const [name, o] of original) {
    const s = saved.get(name)!;
    assert.equal(s.dtype, "F32", name);
    assert.deepEqual(s.shape, o.shape, name);
    assert.ok(s.bytes.equals(o.bytes), `${name}: bytes differ after save`);
  }
  const again = ViTMAEForPreTraining.fromPretrained(dir);
  const cfg = parseConfig(JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")));
  assert.ok(isRight(cfg), "the written config.json parses");
  assert.deepEqual(cfg.right, model.config);
  assert.deepEqual(again.config, model.config);
  // Saving the reloaded model again gives the same bytes (a fixed point).
  const dir2 = freshDir("saved-again");
  again.savePretrained(dir2);
  assert.ok(
    readFileSync(path.join(dir2, "model.safetensors")).equals(readFileSync(path.join(dir, "model.safetensors"))),
  );
});

test("ViTMAEModel.fromPretrained on a pre-training checkpoint takes vit.* and gives the full model's last_hidden_state", () => {
  const full = ViTMAEForPreTraining.fromPretrained(ref.modelDir);
  const enc = ViTMAEModel.fromPretrained(ref.modelDir);
  assert.ok(!("decoder" in enc.params), "the decoder is ignored");
  const a = full.forward({ pixelValues: pixels(), noise: noise() });
  const b = enc.forward({ pixelValues: pixels(), noise: noise() });
  assert.deepEqual(b.lastHiddenState.toNested(), a.lastHiddenState.toNested());
  assert.deepEqual(b.idsRestore.toNested(), a.idsRestore.toNested());
  assert.equal(loadEncoder(ref.modelDir).params.embeddings.cls_token.shape.length, 3);
});

test("a bare encoder checkpoint (ViTMAEModel.savePretrained) has HF's unprefixed names and loads back", () => {
  const enc = ViTMAEModel.fromPretrained(ref.modelDir);
  const dir = freshDir("encoder");
  enc.savePretrained(dir);
  const names = [...readSafetensorsFile(path.join(dir, "model.safetensors")).tensors.keys()].sort();
  assert.deepEqual(
    names,
    parameterShapes(enc.config, "")
      .map(([n]) => n)
      .sort(),
  );
  assert.ok(
    names.includes("embeddings.cls_token") && !names.some((n) => n.startsWith("vit.") || n.startsWith("decoder.")),
  );
  const json = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
  assert.deepEqual(json.architectures, ["ViTMAEModel"]);
  const back = ViTMAEModel.fromPretrained(dir);
  assert.deepEqual(back.config, enc.config);
  const x = { pixelValues: pixels(), noise: noise() };
  assert.deepEqual(back.forward(x).lastHiddenState.toNested(), enc.forward(x).lastHiddenState.toNested());
  // A pre-training model cannot be built from it: the decoder is missing, by name.
  assert.throws(
    () => ViTMAEForPreTraining.fromPretrained(dir),
    (e: Error) => e instanceof ParameterError && e.message.includes('missing tensor "decoder.mask_token"'),
  );
});

test("missing, unexpected and wrongly shaped tensors are all reported, by name, in one ParameterError", () => {
  const dir = editedCheckpoint((m) => {
    m.delete("vit.layernorm.bias");
    m.set("vit.extra.weight", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    m.set("decoder.decoder_pred.bias", { dtype: "F32", shape: [7], data: new Float32Array(7) }); // [patchDim] really
  });
  assert.throws(
    () => loadPreTraining(dir),
    (e: Error) => {
      assert.ok(e instanceof ParameterError, `got ${e.name}: ${e.message}`);
      assert.match(e.message, /3 problem/);
      assert.ok(
        e.message.includes(`missing tensor "vit.layernorm.bias" (expected shape [${ref.config.hiddenSize}])`),
        e.message,
      );
      assert.match(e.message, /unexpected tensor "vit\.extra\.weight"/);
      assert.ok(
        e.message.includes(`"decoder.decoder_pred.bias" has shape [7], expected [${ref.config.patchDim}]`),
        e.message,
      );
      assert.ok(e.message.includes(path.join(dir, "model.safetensors")), "names the file");
      return true;
    },
  );
});

test("a folder without model.safetensors, or that does not exist, is a CheckpointError naming it", () => {
  const dir = freshDir("no-weights");
  mkdirSync(dir);
  copyFileSync(path.join(ref.modelDir, "config.json"), path.join(dir, "config.json"));
  assert.throws(
    () => ViTMAEForPreTraining.fromPretrained(dir),
    (e: Error) => e instanceof CheckpointError && e.message.includes(`no model.safetensors in ${dir}`),
  );
  writeFileSync(path.join(dir, "pytorch_model.bin"), "x");
  assert.throws(() => ViTMAEModel.fromPretrained(dir), /pytorch_model\.bin.*safetensors/);
  assert.throws(
    () => loadPreTraining(path.join(tmp, "nowhere")),
    (e: Error) => e instanceof CheckpointError && e.message.includes("nowhere") && e.message.includes("does not exist"),
  );
});

test("a corrupt model.safetensors is an error naming the file", () => {
  for (const [label, bytes] of [
    ["truncated", readFileSync(path.join(ref.modelDir, "model.safetensors")).subarray(0, 5000)],
    ["garbage", Buffer.from("not a safetensors file at all")],
  ] as const) {
    const dir = freshDir(label);
    mkdirSync(dir);
    copyFileSync(path.join(ref.modelDir, "config.json"), path.join(dir, "config.json"));
    writeFileSync(path.join(dir, "model.safetensors"), bytes);
    assert.throws(
      () => loadPreTraining(dir),
      (e: Error) => e instanceof SafetensorsError && e.message.includes(path.join(dir, "model.safetensors")),
      label,
    );
  }
});

test("a bad or missing config.json is a ConfigError naming the file and the field", () => {
  const cases: [string, string | undefined, RegExp][] = [
    ["not-json", "{ hidden_size: 64", /not valid JSON/],
    [
      "bad-field",
      JSON.stringify({ ...JSON.parse(readFileSync(path.join(ref.modelDir, "config.json"), "utf8")), hidden_size: -3 }),
      /hidden_size = -3/,
    ],
    ["missing", undefined, /config\.json": no such file/],
  ];
  for (const [label, text, why] of cases) {
    const dir = freshDir(label);
    mkdirSync(dir);
    copyFileSync(path.join(ref.modelDir, "model.safetensors"), path.join(dir, "model.safetensors"));
    if (text !== undefined) writeFileSync(path.join(dir, "config.json"), text);
    assert.throws(
      () => ViTMAEForPreTraining.fromPretrained(dir),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, `${label}: got ${e.name}: ${e.message}`);
        assert.ok(e.message.includes(path.join(dir, "config.json")), `${label}: names the file: ${e.message}`);
        assert.match(e.message, why);
        return true;
      },
    );
  }
});

test("loadNamedTensors reads every tensor of a file as float32, by name", () => {
  const named = loadNamedTensors(path.join(ref.dir, "io.safetensors"));
  assert.deepEqual([...named.keys()], [...ref.io.keys()]);
  const ids = named.get("ids_restore")!; // I64 on disk
  assert.deepEqual([...ids.toArray()], [...ref.io.get("ids_restore")!.data].map(Number));
});
