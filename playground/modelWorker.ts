// The playground's model worker: holds the model, the embedded digits and the trainer, and answers
// the page (protocol.ts) — looks at a digit, pre-trains step by step, switches backends, loads and
// saves checkpoints. Requests run one at a time, in order; training steps run between them, so a
// look asked for during training comes back after the current step.

import * as T from "../src/core/index.ts";
import { cpuReady, cpuThreads } from "../src/core/backends/cpu/cpuBackend.ts";
import { preprocess, preprocessOptions } from "../src/data/preprocess.ts";
import { DEFAULT_PREPROCESSOR_CONFIG } from "../src/data/preprocessorConfig.ts";
import { checkpointToBytes, preTrainingFromBytes } from "../src/mae/checkpoint.ts";
import { fetchCheckpoint } from "../src/mae/fetchCheckpoint.ts";
import { initPreTraining } from "../src/mae/init.ts";
import { namedParameters } from "../src/mae/params.ts";
import { DIGITS_FILE, fetchDigits, type Digits } from "./digits.ts";
import { look, type Model } from "./look.ts";
import type { BackendInfo, ImageChoice, ModelInfo, Reply, Request } from "./protocol.ts";
import { makeTrainer, type Trainer } from "./trainer.ts";

const post = (reply: Reply, transfer: Transferable[] = []) => self.postMessage(reply, { transfer });
const processor = DEFAULT_PREPROCESSOR_CONFIG; // what the demo trains with (ImageNet mean/std; a gray model takes the first)

let digits: Digits;
let trainer: Trainer;
let source = "";
let training: { lr: number; batchSize: number } | null = null;
const queue: Request[] = [];
let pumping = false;

function describeBackend(name: string): BackendInfo {
  const threads = cpuThreads();
  const descriptions: Record<string, string> = {
    cpu: `WebAssembly SIMD kernels on ${threads} thread${threads === 1 ? "" : "s"}${threads > 1 ? " (Web Workers sharing memory)" : " (the page is not cross-origin isolated)"}`,
    reference: "plain TypeScript, the readable spec (slow)",
    "gpujs:webgpu": "WebGPU: WGSL compute shaders on GPU buffers, one submission per step",
    "gpujs:webgl2": "WebGL2: gpu.js kernels on textures (random draws and scatters on the host)",
    "gpujs:webgl": "gpu.js on WebGL, reading every result back to the host (slow)",
  };
  return { name, description: descriptions[name] ?? name };
}

/** The backends that run here as themselves (gpu.js's CPU fallbacks are left out: they are not GPUs). */
async function usableBackends(): Promise<BackendInfo[]> {
  const warn = console.warn;
  console.warn = () => {}; // an unavailable gpu.js mode falls back with a warning: probing is not using
  const found: BackendInfo[] = [];
  try {
    for (const name of T.availableBackends()) {
      if (name === "gpujs" || name === "gpujs:cpu" || name === "gpujs:webasm" || name === "gpujs:gpu") continue;
      try {
        // loadBackend: a WebGPU device is acquired asynchronously, and a browser without one rejects.
        if ((await T.loadBackend(name)).name !== name) continue;
        const sum = T.sum(T.ones([2, 3], { backend: name }));
        if ((await sum.data())[0] === 6) found.push(describeBackend(name));
      } catch {
        // not here
      }
    }
  } finally {
    console.warn = warn;
  }
  return found;
}

function modelInfo(): ModelInfo {
  const c = trainer.model.config;
  const grid: [number, number] = [c.imageSize[0] / c.patchSize[0], c.imageSize[1] / c.patchSize[1]];
  return {
    source,
    imageSize: [...c.imageSize],
    patchSize: [...c.patchSize],
    channels: c.numChannels,
    grid,
    layers: c.numHiddenLayers,
    heads: c.numAttentionHeads,
    parameters: [...namedParameters(trainer.model.params).values()].reduce((n, t) => n + t.size, 0),
    steps: trainer.steps,
  };
}

function use(model: Model, from: string): void {
  trainer = makeTrainer(model, digits.train, prepFor(model), 0);
  source = from;
  if (training) {
    training = null;
    post({ kind: "stopped", step: 0 });
  }
}

const prepFor = (m: Model) =>
  preprocessOptions(processor, {
    height: m.config.imageSize[0],
    width: m.config.imageSize[1],
    channels: m.config.numChannels,
  });

/** The model's input [C, H, W] for an image choice: the HF preprocessing (resize, rescale, normalise). */
function pixelsOf(image: ImageChoice): Float32Array {
  const picture = image.kind === "heldOut" ? digits.heldOut.get(image.index).image : image.picture;
  return preprocess(picture, prepFor(trainer.model));
}

async function handle(request: Request): Promise<void> {
  switch (request.kind) {
    case "look": {
      const model = trainer.model;
      const view = await look(model, pixelsOf(request.image), request.mask, request, processor);
      post({ kind: "view", id: request.id, ...view });
      return;
    }
    case "train":
      training = { lr: request.lr, batchSize: request.batchSize };
      return;
    case "stop":
      return;
    case "reset":
      use(
        { config: trainer.model.config, params: initPreTraining(T.key(request.seed), trainer.model.config) },
        `random init (seed ${request.seed})`,
      );
      post({ kind: "model", model: modelInfo() });
      return;
    case "shipped":
      use(await shippedModel(), "the shipped MNIST checkpoint");
      post({ kind: "model", model: modelInfo() });
      return;
    case "load": {
      const [configName, weightsName] = request.names;
      const loaded = preTrainingFromBytes(request.config, request.weights, {
        config: configName,
        weights: weightsName,
      });
      use(loaded, `${configName} + ${weightsName}`);
      post({ kind: "model", model: modelInfo() });
      return;
    }
    case "save": {
      const { configJson, weights } = checkpointToBytes(trainer.model.config, trainer.model.params);
      post({ kind: "saved", config: configJson, weights }, [weights.buffer as ArrayBuffer]);
      return;
    }
    case "backend": {
      if (T.backend().name === request.name) return;
      const previous = T.backend().name;
      await T.loadBackend(request.name);
      T.setBackend(request.name);
      try {
        await trainer.moveTo(request.name);
      } catch (error) {
        T.setBackend(previous);
        throw error;
      }
      post({ kind: "backend", backend: describeBackend(request.name) });
      return;
    }
  }
}

const ABOUT = {
  look: "look",
  train: "training",
  stop: "training",
  reset: "start",
  shipped: "start",
  load: "checkpoint",
  save: "checkpoint",
  backend: "backend",
} as const;

/** Runs queued requests in order, and training steps while training is on and nothing is queued. */
async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    while (queue.length > 0 || training) {
      const request = queue.shift();
      if (request) {
        // Only the newest look matters: the page shows the latest choice.
        if (request.kind === "look" && queue.some((r) => r.kind === "look")) continue;
        try {
          await handle(request);
        } catch (error) {
          post({ kind: "error", about: ABOUT[request.kind], message: String((error as Error).message ?? error) });
        }
      } else if (training) {
        try {
          const outcome = await trainer.step(training.lr, training.batchSize);
          post({ kind: "step", ...outcome });
        } catch (error) {
          training = null;
          post({ kind: "error", about: "training", message: String((error as Error).message ?? error) });
          post({ kind: "stopped", step: trainer.steps });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 0)); // let new messages in
    }
  } finally {
    pumping = false;
  }
}

self.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  if (request.kind === "stop" && training) {
    training = null;
    post({ kind: "stopped", step: trainer.steps });
    return;
  }
  queue.push(request);
  void pump();
};

async function shippedModel(): Promise<Model> {
  const { configJson, weights, sources } = await fetchCheckpoint(new URL("model/", self.location.href));
  return preTrainingFromBytes(configJson, weights, sources);
}

async function start(): Promise<void> {
  try {
    await cpuReady();
    const [loaded, model] = await Promise.all([
      fetchDigits(new URL(DIGITS_FILE, self.location.href).href),
      shippedModel(),
    ]);
    digits = loaded;
    use(model, "the shipped MNIST checkpoint");
    post({
      kind: "ready",
      model: modelInfo(),
      backend: describeBackend(T.backend().name),
      backends: await usableBackends(),
      heldOut: digits.heldOutBytes,
      trainSize: digits.train.size,
    });
  } catch (error) {
    post({ kind: "error", about: "start", message: String((error as Error).message ?? error) });
  }
}

void start();
