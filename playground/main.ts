// The playground page: controls and canvases wired to the model worker (modelWorker.ts), which holds
// the model and does every computation. The page keeps only what to look at (a digit or a picture,
// a mask) and draws what comes back.

import { drawPad } from "./drawPad.ts";
import { readDropped } from "./droppedFiles.ts";
import { lossChart } from "./lossChart.ts";
import { patchAt } from "./paint.ts";
import type { ImageChoice, MaskChoice, ModelInfo, Reply, Request, View } from "./protocol.ts";
import { showThumbs, showView } from "./view.ts";

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const send = (request: Request, transfer: Transferable[] = []) => worker.postMessage(request, transfer);

let model: ModelInfo | undefined;
let heldOut: { images: Uint8Array; labels: Uint8Array } = { images: new Uint8Array(), labels: new Uint8Array() };
let backendName = "";
let image: ImageChoice = { kind: "heldOut", index: 0 };
let mask: MaskChoice = { kind: "random", seed: 0, ratio: 0.75 };
let view: View | undefined;
const chart = lossChart($("loss-chart"));
const pad = drawPad($("draw-pad"), () => {
  if (model) choose({ kind: "picture", picture: pad.picture(model.imageSize[1], model.imageSize[0]) });
});

// ---- Messages on the page ----

function say(text: string, kind: "error" | "info" = "error"): void {
  const box = $("message");
  const lines = text.split("\n");
  box.textContent = (lines.length > 7 ? [...lines.slice(0, 6), `… and ${lines.length - 6} more`] : lines).join("\n");
  box.className = `message ${kind === "info" ? "info" : ""}`;
  box.hidden = false;
}
$("message").addEventListener("click", () => ($("message").hidden = true));

const ERROR_PREFIX: Record<string, string> = {
  checkpoint: "Could not load the checkpoint: ",
  image: "Could not use that image: ",
  training: "Training stopped: ",
  backend: "Could not switch the backend: ",
  look: "Could not compute the reconstruction: ",
  start: "The playground could not start: ",
};

// ---- Looking: one request in flight at a time; the newest choice wins ----

let lookId = 0;
let inFlight = false;
let again = false;
function requestLook(): void {
  if (!model) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  const layer = Number($<HTMLSelectElement>("layer").value);
  const head = Number($<HTMLSelectElement>("head").value);
  send({ kind: "look", id: ++lookId, image, mask, layer, head });
}

function choose(next: ImageChoice): void {
  image = next;
  if (next.kind === "heldOut") {
    $<HTMLInputElement>("digit").value = String(next.index);
    showThumbs(heldOut, next.index, (i) => choose({ kind: "heldOut", index: i }));
  } else for (const thumb of $("thumbs").children) thumb.classList.remove("chosen");
  requestLook();
}

function randomMask(): void {
  const ratio = Number($<HTMLInputElement>("ratio").value);
  $("ratio-value").textContent = ratio.toFixed(2);
  mask = { kind: "random", seed: Number($<HTMLInputElement>("seed").value), ratio };
  requestLook();
}

// ---- The model, the backend, the status line ----

function showModel(next: ModelInfo): void {
  const shapeChanged = !model || model.grid.join() !== next.grid.join();
  model = next;
  const options = (n: number) => Array.from({ length: n }, (_, i) => new Option(String(i), String(i)));
  const layer = $<HTMLSelectElement>("layer");
  const head = $<HTMLSelectElement>("head");
  if (layer.options.length !== next.layers) layer.replaceChildren(...options(next.layers));
  if (head.options.length !== next.heads) head.replaceChildren(...options(next.heads));
  if (shapeChanged) {
    layer.value = String(next.layers - 1);
    if (mask.kind === "manual") randomMask();
  }
  $("status").textContent =
    `Model: ${next.source} · ${next.parameters.toLocaleString("en")} parameters · ${next.imageSize.join("×")} pixels, ` +
    `${next.grid.join("×")} patches · ${next.layers} encoder layers × ${next.heads} heads · ${next.steps} steps trained here`;
}

function setTraining(on: boolean): void {
  $<HTMLButtonElement>("train").disabled = on;
  $<HTMLButtonElement>("stop").disabled = !on;
}

worker.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  switch (reply.kind) {
    case "ready": {
      heldOut = reply.heldOut;
      $<HTMLInputElement>("digit").max = String(heldOut.labels.length - 1);
      const select = $<HTMLSelectElement>("backend");
      select.replaceChildren(...reply.backends.map((b) => new Option(b.name, b.name)));
      select.value = backendName = reply.backend.name;
      select.disabled = false;
      $("backend-description").textContent = reply.backend.description;
      showModel(reply.model);
      choose(image);
      document.body.dataset.ready = "true";
      return;
    }
    case "view":
      inFlight = false;
      if (again) {
        again = false;
        requestLook();
      }
      view = reply;
      if (model) showView(reply, model);
      document.body.dataset.views = String(Number(document.body.dataset.views ?? 0) + 1); // (tests wait on it)
      return;
    case "step":
      chart.add(reply.step, reply.loss);
      if (model) showModel({ ...model, steps: reply.step });
      $("train-stats").textContent =
        `step ${reply.step} · loss ${reply.loss.toFixed(4)} · ${reply.imagesPerSec.toFixed(0)} images/s · lr ${reply.lr.toExponential(2)}`;
      requestLook();
      return;
    case "stopped":
      setTraining(false);
      return;
    case "model":
      // A new model: the old curve, downloads and messages were about the one before.
      chart.clear();
      $("downloads").replaceChildren();
      $("message").hidden = true;
      showModel(reply.model);
      requestLook();
      return;
    case "saved": {
      const links = $("downloads");
      for (const a of links.querySelectorAll("a")) URL.revokeObjectURL(a.href);
      const link = (name: string, part: BlobPart, type: string) => {
        const a = document.createElement("a");
        a.href = URL.createObjectURL(new Blob([part], { type }));
        a.download = name;
        a.textContent = name;
        return a;
      };
      links.replaceChildren(
        link("config.json", reply.config, "application/json"),
        link("model.safetensors", reply.weights as BlobPart, "application/octet-stream"),
        `(${(reply.weights.byteLength / 1e6).toFixed(2)} MB, step ${model?.steps ?? 0})`,
      );
      return;
    }
    case "backend":
      backendName = reply.backend.name;
      $<HTMLSelectElement>("backend").disabled = false;
      $("backend-description").textContent = reply.backend.description;
      requestLook();
      return;
    case "error":
      if (reply.about === "look") inFlight = false;
      if (reply.about === "backend") {
        const select = $<HTMLSelectElement>("backend");
        select.disabled = false;
        select.value = backendName;
      }
      say(ERROR_PREFIX[reply.about] + reply.message);
      return;
  }
};
worker.onerror = (event) => say(`The model worker failed: ${event.message}`);

// ---- Controls ----

const digitAt = (delta: number) => {
  const n = heldOut.labels.length;
  const i = image.kind === "heldOut" ? image.index : 0;
  choose({ kind: "heldOut", index: (((i + delta) % n) + n) % n });
};
$("digit").addEventListener("change", () => {
  const i = Math.round(Number($<HTMLInputElement>("digit").value));
  if (i >= 0 && i < heldOut.labels.length) choose({ kind: "heldOut", index: i });
  else say(`There are ${heldOut.labels.length} held-out digits: pick one from 0 to ${heldOut.labels.length - 1}.`);
});
$("digit-prev").addEventListener("click", () => digitAt(-1));
$("digit-next").addEventListener("click", () => digitAt(1));
$("digit-random").addEventListener("click", () =>
  choose({ kind: "heldOut", index: Math.floor(Math.random() * heldOut.labels.length) }),
);
$("ratio").addEventListener("input", randomMask);
$("seed").addEventListener("change", randomMask);
$("seed-new").addEventListener("click", () => {
  $<HTMLInputElement>("seed").value = String(Math.floor(Math.random() * 1e6));
  randomMask();
});
$("layer").addEventListener("change", requestLook);
$("head").addEventListener("change", requestLook);
for (let i = 0; i < 4; i++) {
  $(`panel-${i}`).addEventListener("click", (event) => {
    if (!model || !view) return;
    const canvas = event.currentTarget as HTMLCanvasElement;
    const p = patchAt(canvas, model.grid, event.offsetX, event.offsetY);
    const masked = Uint8Array.from(view.mask);
    masked[p] = masked[p] ? 0 : 1;
    if (masked.every((m) => m === 1))
      return say("At least one patch must stay visible: the encoder needs something to see.", "info");
    mask = { kind: "manual", masked };
    requestLook();
  });
}
$("draw-clear").addEventListener("click", () => pad.clear());

$("backend").addEventListener("change", () => {
  const select = $<HTMLSelectElement>("backend");
  select.disabled = true;
  send({ kind: "backend", name: select.value });
});

$("train").addEventListener("click", () => {
  const lr = Number($<HTMLInputElement>("lr").value);
  if (!(lr > 0 && lr < 1))
    return say("The learning rate must be a number between 0 and 1 (1.5e-3 works for this model).");
  setTraining(true);
  send({ kind: "train", lr, batchSize: Number($<HTMLSelectElement>("batch").value) });
});
$("stop").addEventListener("click", () => send({ kind: "stop" }));
$("reset").addEventListener("click", () => send({ kind: "reset", seed: Math.floor(Math.random() * 1e6) }));
$("shipped").addEventListener("click", () => send({ kind: "shipped" }));
$("save").addEventListener("click", () => send({ kind: "save" }));

// ---- Dropped or chosen files ----

async function useFiles(files: File[]): Promise<void> {
  try {
    const dropped = await readDropped(files);
    if (dropped.kind === "image") {
      choose({ kind: "picture", picture: dropped.picture });
      say(`Looking at ${dropped.name}, resized to the model's ${model?.imageSize.join("×")} and made gray.`, "info");
    } else {
      send({ kind: "load", config: dropped.config, weights: dropped.weights, names: dropped.names }, [
        dropped.weights.buffer as ArrayBuffer,
      ]);
    }
  } catch (error) {
    say(String((error as Error).message ?? error));
  }
}
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  document.body.classList.remove("dragging");
  void useFiles([...(event.dataTransfer?.files ?? [])]);
});
$<HTMLInputElement>("files").addEventListener("change", (event) => {
  const input = event.currentTarget as HTMLInputElement;
  void useFiles([...(input.files ?? [])]);
  input.value = "";
});
