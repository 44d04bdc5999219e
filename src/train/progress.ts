// Progress output for a training run: a live bar on a terminal (cli-progress), plain lines otherwise.

import cliProgress from "cli-progress";
import type { StepInfo } from "./pretrain.ts";

export interface Progress {
  update(info: StepInfo): void;
  stop(): void;
}

const fmtLoss = (x: number) => x.toFixed(4);
const fmtLr = (x: number) => x.toExponential(2);

export function makeProgress(
  totalSteps: number,
  startStep: number,
  opts: { tty?: boolean; every?: number } = {},
): Progress {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: "step {value}/{total} [{bar}] loss {loss} lr {lr} {ips} img/s ETA {eta_formatted}",
        stream: process.stderr,
        etaBuffer: 20,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(totalSteps, startStep, { loss: "-", lr: "-", ips: "-" });
    return {
      update: (i) => bar.update(i.step, { loss: fmtLoss(i.loss), lr: fmtLr(i.lr), ips: i.imagesPerSec.toFixed(1) }),
      stop: () => bar.stop(),
    };
  }
  const every = opts.every ?? Math.max(1, Math.round(totalSteps / 20));
  const started = Date.now();
  let done = 0;
  return {
    update: (i) => {
      done++;
      if (i.step % every !== 0 && i.step !== totalSteps) return;
      const eta = (((Date.now() - started) / done) * (totalSteps - i.step)) / 1000;
      console.log(
        `step ${i.step}/${totalSteps}  loss ${fmtLoss(i.loss)}  lr ${fmtLr(i.lr)}  ` +
          `${i.imagesPerSec.toFixed(1)} img/s  ETA ${eta.toFixed(0)}s`,
      );
    },
    stop: () => undefined,
  };
}
