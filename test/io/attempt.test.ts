// fp-ts Either at the boundaries: each loader's `try…` twin gives Right for what the throwing call
// returns, Left for each failure it expects (config, file, tensors, folder, data, trainer state), and
// still throws a bug.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isLeft, isRight, type Either } from "fp-ts/lib/Either.js";
import * as T from "../../src/core/index.ts";
import { DatasetError } from "../../src/data/dataset.ts";
import { tryParseDataSpec } from "../../src/data/parseDataSpec.ts";
import { attempt } from "../../src/io/attempt.ts";
import { NoFileSystemError, registerFileSystem } from "../../src/io/fileSystem.ts";
import { IdxError } from "../../src/io/idx.ts";
import { SafetensorsError } from "../../src/io/safetensors.ts";
import {
  CheckpointError,
  checkpointToBytes,
  ConfigError,
  ParameterError,
  tryLoadEncoder,
  tryLoadPreTraining,
  tryPreTrainingFromBytes,
  ViTMAEForPreTraining,
} from "../../src/mae/index.ts";
import { nodeFileSystem } from "../../src/node/nodeFileSystem.ts";
import { TrainCheckpointError, tryLoadTrainingCheckpoint } from "../../src/train/trainCheckpoint.ts";
import { runCli, smallConfig, writeImageFolder, writeSmallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-either-"));
after(() => rmSync(root, { recursive: true, force: true }));
const { configJson, weights } = checkpointToBytes(smallConfig, ViTMAEForPreTraining.init(smallConfig, T.key(0)).params);

/** The Left's error, checked to be of `type`. */
function leftOf<E>(result: Either<E, unknown>, type: abstract new (...a: never[]) => E): E {
  assert.ok(isLeft(result), "a Left");
  assert.ok(result.left instanceof type, `a ${type.name}, got ${String(result.left)}`);
  return result.left;
}

test("attempt: Right for a value, Left for an expected error, and a bug (any other error) still throws", () => {
  assert.deepEqual(
    attempt(() => 3, [DatasetError]),
    { _tag: "Right", right: 3 },
  );
  const bad = new DatasetError("no images");
  assert.deepEqual(
    attempt(() => {
      throw bad;
    }, [DatasetError]),
    { _tag: "Left", left: bad },
  );
  assert.throws(
    () =>
      attempt(() => {
        throw new TypeError("a bug");
      }, [DatasetError]),
    TypeError,
  );
});

test("tryPreTrainingFromBytes: Right equals the throwing call's model; each kind of bad input is a Left of its type", () => {
  const ok = tryPreTrainingFromBytes(configJson, weights);
  assert.ok(isRight(ok) && ok.right.config.hiddenSize === smallConfig.hiddenSize);
  leftOf(tryPreTrainingFromBytes("{ broken", weights), ConfigError);
  leftOf(tryPreTrainingFromBytes(configJson, weights.subarray(0, 10)), SafetensorsError);
  const wider = JSON.stringify({ ...JSON.parse(configJson), intermediate_size: 64 });
  leftOf(tryPreTrainingFromBytes(wider, weights), ParameterError);
});

test("tryLoadPreTraining / tryLoadEncoder: a missing folder, a folder without weights, no file system: Lefts", () => {
  const dir = join(root, "model");
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), configJson);
  leftOf(tryLoadPreTraining(dir), CheckpointError); // no model.safetensors
  writeFileSync(join(dir, "model.safetensors"), weights);
  assert.ok(isRight(tryLoadPreTraining(dir)) && isRight(tryLoadEncoder(dir)));
  leftOf(tryLoadPreTraining(join(root, "nowhere")), CheckpointError);
  registerFileSystem(undefined);
  try {
    leftOf(tryLoadEncoder(dir), NoFileSystemError);
  } finally {
    registerFileSystem(nodeFileSystem);
  }
});

test("tryParseDataSpec and tryLoadTrainingCheckpoint: Lefts for a missing folder, a bad IDX file, a damaged run", async () => {
  leftOf(tryParseDataSpec(join(root, "no-data")), DatasetError);
  const idx = join(root, "bad-idx");
  writeFileSync(idx, "not idx");
  leftOf(tryParseDataSpec(`idx:${idx}`), IdxError);
  assert.ok(isRight(tryParseDataSpec("mnist")));
  const run = join(root, "run");
  const data = writeImageFolder(join(root, "data"), 8);
  const config = writeSmallConfig(join(root, "config.json"));
  const r = await runCli([
    "pretrain",
    "--config",
    config,
    "--data",
    data,
    "--batch-size",
    "8",
    "--steps",
    "1",
    "--out",
    run,
  ]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.ok(isRight(tryLoadTrainingCheckpoint(run)));
  const statePath = join(run, "checkpoint", "trainer_state.json");
  writeFileSync(statePath, readFileSync(statePath, "utf8").replace('"seed": 0', '"seed": "zero"'));
  assert.match(leftOf(tryLoadTrainingCheckpoint(run), TrainCheckpointError).message, /seed: "zero"/);
  leftOf(tryLoadTrainingCheckpoint(join(root, "no-run")), TrainCheckpointError);
});
