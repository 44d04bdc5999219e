// Drawing what the worker computed: the four panels with the patch grid, the per-patch error and the
// CLS attention maps, and the strip of held-out digits to pick from.

import { paintGrid, paintPatchMap, paintPicture } from "./paint.ts";
import type { ModelInfo, View } from "./protocol.ts";

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;

/** Paints a look at the model on the page's canvases. */
export function showView(view: View, model: ModelInfo): void {
  view.panels.forEach((picture, i) => {
    const canvas = $<HTMLCanvasElement>(`panel-${i}`);
    paintPicture(canvas, picture);
    paintGrid(canvas, model.grid);
  });
  const masked = $<HTMLCanvasElement>("panel-1");
  masked.dataset.masked = String(view.mask.reduce((n, m) => n + m, 0));
  masked.dataset.mask = Array.from(view.mask).join("");
  // Only masked patches are scored (the model is not trained to reproduce the visible ones).
  const scored = view.error.map((e, p) => (view.mask[p] ? e : Number.NaN));
  const top = paintPatchMap($("error-map"), view.panels[0], model.grid, scored);
  $("error-top").textContent = `(brightest: ${top.toFixed(3)})`;
  paintPatchMap($("attention-map"), view.panels[0], model.grid, view.attention);
  $("cls-self").textContent = `(CLS to itself: ${view.clsSelf.toFixed(3)}; grey: masked, the encoder never sees them)`;
  const k = view.mask.reduce((n, m) => n + m, 0);
  $("look-loss").dataset.loss = String(view.loss);
  $("look-loss").dataset.backend = view.backend;
  $("look-loss").textContent =
    k === 0
      ? "Nothing is masked: the loss (over masked patches) is undefined."
      : `${k} of ${view.mask.length} patches masked; loss (mean squared error over the masked patches, normalised pixels): ${view.loss.toFixed(4)}`;
}

/** The strip of held-out digits around `chosen`, 16 at a time; `pick` gets the index clicked. */
export function showThumbs(
  heldOut: { images: Uint8Array; labels: Uint8Array },
  chosen: number,
  pick: (index: number) => void,
): void {
  const strip = $("thumbs");
  strip.replaceChildren();
  const first = Math.floor(chosen / 16) * 16;
  for (let i = first; i < Math.min(first + 16, heldOut.labels.length); i++) {
    const canvas = document.createElement("canvas");
    canvas.width = 28;
    canvas.height = 28;
    canvas.title = `held-out digit ${i} (a ${heldOut.labels[i]})`;
    canvas.classList.toggle("chosen", i === chosen);
    paintPicture(canvas, { width: 28, height: 28, channels: 1, data: heldOut.images.subarray(i * 784, (i + 1) * 784) });
    canvas.addEventListener("click", () => pick(i));
    strip.append(canvas);
  }
}
