// A pad to draw a digit on with the mouse, a pen or a finger: white strokes on black, as MNIST's
// digits are; read back at the model's size as an 8-bit gray picture.

import type { Picture } from "./protocol.ts";

export interface DrawPad {
  clear(): void;
  /** The drawing at width x height, gray (the canvas is scaled down smoothly). */
  picture(width: number, height: number): Picture;
}

/** Makes `canvas` a drawing pad; `onStroke` is called when a stroke ends. */
export function drawPad(canvas: HTMLCanvasElement, onStroke: () => void): DrawPad {
  const ctx = canvas.getContext("2d")!;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const next = at(e);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = canvas.width / 11; // about MNIST's stroke: 2.5 pixels of 28
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...next);
    ctx.stroke();
    last = next;
  });
  const end = () => {
    if (!last) return;
    last = null;
    onStroke();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return {
    clear,
    picture(width, height) {
      const small = new OffscreenCanvas(width, height);
      const s = small.getContext("2d")!;
      s.imageSmoothingQuality = "high";
      s.drawImage(canvas, 0, 0, width, height);
      const rgba = s.getImageData(0, 0, width, height).data;
      const data = new Uint8Array(width * height);
      for (let p = 0; p < data.length; p++) data[p] = rgba[4 * p];
      return { width, height, channels: 1, data };
    },
  };
}
