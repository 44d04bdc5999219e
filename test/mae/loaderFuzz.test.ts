// Fuzzing the checkpoint loaders (issue 13): thousands of mutated safetensors headers and config.json
// files against preTrainingFromBytes and the ViT classifier's classifierFromBytes. Each must load correctly or fail with one of the loaders' own
// errors — never another exception, a hang, or an allocation beyond a bound. The fuzzing runs in a
// worker (loaderFuzz.worker.ts) with a 256 MB heap and a time limit, so that a loader which hangs or
// allocates without bound fails here, with its counterexample, rather than taking the machine down.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import fc from "fast-check";

const HEADER_RUNS = 3000;
const CONFIG_RUNS = 2000; // two loads each: the object and its (possibly cut) text
const CLASSIFIER_HEADER_RUNS = 1500;
const CLASSIFIER_CONFIG_RUNS = 1000;
const LOADS = HEADER_RUNS + 2 * CONFIG_RUNS + CLASSIFIER_HEADER_RUNS + 2 * CLASSIFIER_CONFIG_RUNS;

test("fuzz: mutated safetensors headers and config.json files load correctly or are refused, quickly, in bounded memory", async (t) => {
  const seed = fc.readConfigureGlobal()?.seed ?? Math.floor(Math.random() * 2 ** 31);
  // The worker registers tsx itself (as bin/vitmae.mjs does) before importing the TypeScript fuzzer.
  const entry = new URL("./loaderFuzz.worker.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, {
    eval: true,
    workerData: {
      seed,
      headerRuns: HEADER_RUNS,
      configRuns: CONFIG_RUNS,
      classifierHeaderRuns: CLASSIFIER_HEADER_RUNS,
      classifierConfigRuns: CLASSIFIER_CONFIG_RUNS,
    },
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  });
  const limit = 60_000;
  const outcome = await new Promise<{ stats?: Record<string, number>; error?: string }>((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve({ error: `still fuzzing after ${limit / 1000} s: a loader hangs (seed ${seed})` });
    }, limit);
    worker.once("message", (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    worker.once("error", (e) => {
      clearTimeout(timer);
      resolve({ error: `the worker died (seed ${seed}): ${e.message}` }); // e.g. out of memory
    });
  });
  await worker.terminate();
  assert.equal(outcome.error, undefined, outcome.error);
  const { loaded, refused, slowest, peakArrayBuffers } = outcome.stats!;
  t.diagnostic(
    `ViTMAE: ${HEADER_RUNS} headers and ${2 * CONFIG_RUNS} configs; ViT classifier: ${CLASSIFIER_HEADER_RUNS} headers ` +
      `and ${2 * CLASSIFIER_CONFIG_RUNS} configs: ${loaded} loaded, ${refused} refused; slowest ${slowest.toFixed(1)} ms`,
  );
  assert.equal(loaded + refused, LOADS);
  assert.ok(refused > HEADER_RUNS + CLASSIFIER_HEADER_RUNS, "most mutations are refused");
  assert.ok(loaded > 100, "and some still load (a mutation the loaders must accept, like an extra config key)");
  assert.ok(slowest < 1000, `every load or refusal took under a second (slowest ${slowest.toFixed(1)} ms)`);
  assert.ok(peakArrayBuffers < 256 * 2 ** 20, `array buffers stayed under 256 MB (${peakArrayBuffers})`);
});
