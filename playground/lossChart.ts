// The live loss curve: every step's loss as a point and a centred running mean as a line, on a
// canvas that rescales as points arrive. The points are also in its data-points attribute (JSON).

export interface LossChart {
  add(step: number, loss: number): void;
  clear(): void;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export function lossChart(canvas: HTMLCanvasElement): LossChart {
  const points: [number, number][] = [];
  const draw = () => {
    const ctx = canvas.getContext("2d")!;
    const { width, height } = canvas;
    const pad = { left: 44, right: 10, top: 10, bottom: 22 };
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#888";
    if (points.length === 0) {
      ctx.fillText("the loss of each training step appears here", pad.left, height / 2);
      return;
    }
    const steps = points.map((p) => p[0]);
    const losses = points.map((p) => p[1]).filter(Number.isFinite);
    const [x0, x1] = [Math.min(...steps), Math.max(Math.max(...steps), Math.min(...steps) + 1)];
    const [y0, y1] = [Math.min(...losses), Math.max(Math.max(...losses), Math.min(...losses) + 1e-6)];
    const x = (s: number) => pad.left + ((s - x0) / (x1 - x0)) * (width - pad.left - pad.right);
    const y = (l: number) => pad.top + (1 - (l - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
    ctx.strokeStyle = "#555";
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, height - pad.bottom);
    ctx.lineTo(width - pad.right, height - pad.bottom);
    ctx.stroke();
    ctx.fillText(y1.toFixed(3), 2, pad.top + 8);
    ctx.fillText(y0.toFixed(3), 2, height - pad.bottom);
    ctx.fillText(`step ${x0}`, pad.left, height - 6);
    ctx.fillText(`${x1}`, width - pad.right - 24, height - 6);
    ctx.fillStyle = "rgba(90, 150, 255, 0.7)";
    for (const [s, l] of points) if (Number.isFinite(l)) ctx.fillRect(x(s) - 1.5, y(l) - 1.5, 3, 3);
    // A centred mean over 9 steps: the trend through the noise of single batches.
    ctx.strokeStyle = "#f08c28";
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach(([s], i) => {
      const window = points.slice(Math.max(0, i - 4), i + 5).map((p) => p[1]);
      const mean = window.reduce((a, b) => a + b, 0) / window.length;
      if (i === 0) ctx.moveTo(x(s), y(mean));
      else ctx.lineTo(x(s), y(mean));
    });
    ctx.stroke();
    ctx.lineWidth = 1;
  };
  draw();
  return {
    add(step, loss) {
      points.push([step, loss]);
      canvas.dataset.points = JSON.stringify(points);
      draw();
    },
    clear() {
      points.length = 0;
      canvas.dataset.points = "[]";
      draw();
    },
    points,
  };
}
