// Checkpoints without a file system: fromBytes / toBytes (the same bytes a folder holds), fromUrl over
// HTTP, and a clear error from the path-taking calls where no file system is registered (a browser).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as T from "../../src/core/index.ts";
import { registerFileSystem } from "../../src/io/fileSystem.ts";
import { nodeFileSystem } from "../../src/node/nodeFileSystem.ts";
import {
  CheckpointError,
  ConfigError,
  namedParameters,
  NoFileSystemError,
  ViTMAEForPreTraining,
  ViTMAEModel,
} from "../../src/universal.ts";
import { loadReferenceCase } from "../helpers/reference.ts";

const ref = loadReferenceCase("tiny");
const configText = readFileSync(path.join(ref.modelDir, "config.json"), "utf8");
const weights = new Uint8Array(readFileSync(path.join(ref.modelDir, "model.safetensors")));
const tmp = mkdtempSync(path.join(tmpdir(), "vitmae-bytes-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every parameter's values, by HF name. */
const valuesOf = (m: { params: object }) =>
  new Map([...namedParameters(m.params)].map(([n, t]) => [n, Array.from(t.toArray())]));

test("fromBytes gives exactly what fromPretrained gives; toBytes is what savePretrained writes", () => {
  const fromDisk = ViTMAEForPreTraining.fromPretrained(ref.modelDir);
  for (const config of [configText, new TextEncoder().encode(configText), JSON.parse(configText)]) {
    const m = ViTMAEForPreTraining.fromBytes(config, weights);
    assert.deepEqual(m.config, fromDisk.config);
    assert.deepEqual(valuesOf(m), valuesOf(fromDisk));
  }
  const dir = path.join(tmp, "saved");
  fromDisk.savePretrained(dir);
  const { configJson, weights: bytes } = fromDisk.toBytes();
  assert.equal(configJson, readFileSync(path.join(dir, "config.json"), "utf8"));
  // HF's own file holds the same JSON (it prints 0.0 where we print 0), and, as HF writes, ends in "}\n".
  assert.deepEqual(JSON.parse(configJson), JSON.parse(configText));
  assert.ok(configJson.endsWith("}\n"), "a newline after the JSON, as save_pretrained writes");
  assert.ok(Buffer.from(bytes).equals(readFileSync(path.join(dir, "model.safetensors"))));
  const back = ViTMAEForPreTraining.fromBytes(configJson, bytes);
  assert.deepEqual(valuesOf(back), valuesOf(fromDisk));
  // The encoder alone, from the pre-training bytes and from its own.
  const enc = ViTMAEModel.fromBytes(configText, weights);
  assert.deepEqual(valuesOf(enc), valuesOf(ViTMAEModel.fromPretrained(ref.modelDir)));
  const encBytes = enc.toBytes();
  assert.deepEqual(valuesOf(ViTMAEModel.fromBytes(encBytes.configJson, encBytes.weights)), valuesOf(enc));
});

test("fromBytes: a bad config or bad weights is the loader's own error, naming the problem", () => {
  assert.throws(() => ViTMAEForPreTraining.fromBytes("{ not json", weights), ConfigError);
  assert.throws(() => ViTMAEForPreTraining.fromBytes({ hidden_size: -1 }, weights), /hidden_size = -1/);
  assert.throws(() => ViTMAEForPreTraining.fromBytes(" ".repeat(2 << 20), weights), /over the 1048576-byte limit/);
  assert.throws(() => ViTMAEForPreTraining.fromBytes(configText, weights.subarray(0, 100)), /safetensors/);
});

describeServer();

function describeServer(): void {
  let server: Server;
  let base = "";
  before(async () => {
    server = createServer((req, res) => {
      const file = path.join(ref.modelDir, path.basename(req.url ?? ""));
      if (req.url?.startsWith("/tiny/") && !req.url.endsWith("/")) {
        try {
          res.end(readFileSync(file));
          return;
        } catch {
          /* 404 below */
        }
      }
      res.statusCode = 404;
      res.end("not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(() => server.close());

  test("fromUrl fetches config.json and model.safetensors from a folder URL (with or without the slash)", async () => {
    const fromDisk = ViTMAEForPreTraining.fromPretrained(ref.modelDir);
    for (const url of [`${base}/tiny`, `${base}/tiny/`, new URL(`${base}/tiny/`)]) {
      const m = await ViTMAEForPreTraining.fromUrl(url);
      assert.deepEqual(valuesOf(m), valuesOf(fromDisk));
    }
    const enc = await ViTMAEModel.fromUrl(`${base}/tiny`);
    assert.equal(enc.config.hiddenSize, fromDisk.config.hiddenSize);
    await assert.rejects(
      ViTMAEForPreTraining.fromUrl(`${base}/nothing-here`),
      (e: Error) => e instanceof CheckpointError && /nothing-here\/config\.json: HTTP 404/.test(e.message),
    );
  });
}

test("with no file system registered (a browser), path-taking calls say what to use instead", () => {
  registerFileSystem(undefined);
  try {
    const m = ViTMAEForPreTraining.init(ref.config, T.key(0));
    const noFs = (e: Error) =>
      e instanceof NoFileSystemError && /no file system here: use fromUrl or fromBytes/.test(e.message);
    assert.throws(() => ViTMAEForPreTraining.fromPretrained(ref.modelDir), noFs);
    assert.throws(() => ViTMAEModel.fromPretrained(ref.modelDir), noFs);
    assert.throws(() => m.savePretrained(path.join(tmp, "never")), noFs);
    assert.ok(ViTMAEForPreTraining.fromBytes(configText, weights).params, "bytes still load");
  } finally {
    registerFileSystem(nodeFileSystem);
  }
});
