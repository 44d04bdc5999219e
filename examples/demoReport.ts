// The demo's results as one record, and the three ways it is shown: the printout, a markdown table
// (for the README) and JSON (the record itself) — so all three always carry the same numbers.

/** Held-out accuracy of a linear probe and of k-NN on one kind of frozen features, in [0, 1]. */
export interface ProbeScores {
  linear: number;
  knn: number;
}

/** Everything `npm run demo` measured, on `heldOut` digits that no training step saw. */
export interface DemoResults {
  /** ISO time the run finished, and the 1/5/15-minute load averages at its start and end. */
  date: string;
  load: { start: number[]; end: number[] };
  minutes: number;
  /** The backend that computed it, with its description (--backend). */
  backend: string;
  heldOut: number;
  model: {
    imageSize: number;
    patchSize: number;
    hiddenSize: number;
    encoderLayers: number;
    decoderLayers: number;
    maskRatio: number;
    normPixLoss: boolean;
  };
  /** stepsPerSecond: null when there was only the first (compiling) step to time. */
  pretrain: { steps: number; batchSize: number; stepsPerSecond: number | null; finalLoss: number };
  reconstruction: { mse: number; meanOfVisibleMse: number };
  probes: { trainSize: number; k: number; pretrained: ProbeScores; random: ProbeScores; pixels: ProbeScores };
  finetune: { steps: number; batchSize: number; stepsPerSecond: number | null; pretrained: number; scratch: number };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rate = (x: number | null) => (x === null ? "–" : x.toFixed(1));

/** The printout of `npm run demo` (test/examples/demo.test.ts reads it). */
export function printout(r: DemoResults, files: string): string {
  const row = (name: string, s: ProbeScores) =>
    `  ${name.padEnd(28)}${pct(s.linear).padStart(7)}      ${pct(s.knn).padStart(7)}`;
  const masked = `${Math.round(100 * r.model.maskRatio)}% of patches masked`;
  return `
pre-training: ${r.pretrain.steps} steps of ${r.pretrain.batchSize} (${rate(r.pretrain.stepsPerSecond)} steps/s); final loss ${r.pretrain.finalLoss.toFixed(4)}

held-out masked-patch MSE (${r.heldOut} digits, ${masked}, ${r.model.normPixLoss ? "per-patch normalised" : "normalised"} pixels)
  MAE reconstruction          ${r.reconstruction.mse.toFixed(4)}
  mean of visible pixels      ${r.reconstruction.meanOfVisibleMse.toFixed(4)}   (model/baseline = ${(r.reconstruction.mse / r.reconstruction.meanOfVisibleMse).toFixed(2)})

frozen features, held-out accuracy (probes fit on ${r.probes.trainSize} train digits; encoder: mean-pooled tokens)
                               linear    k-NN (k=${r.probes.k})
${row("pre-trained encoder", r.probes.pretrained)}
${row("same encoder, random init", r.probes.random)}
${row("raw pixels", r.probes.pixels)}

fine-tuning: ${r.finetune.steps} steps of ${r.finetune.batchSize} (${rate(r.finetune.stepsPerSecond)} steps/s), held-out top-1
  pre-trained encoder        ${pct(r.finetune.pretrained).padStart(7)}
  from scratch (random init) ${pct(r.finetune.scratch).padStart(7)}

total ${r.minutes.toFixed(1)} min, finished ${r.date}, load average ${loads(r.load.start)} at the start, ${loads(r.load.end)} at the end
${files}`;
}

/** The results as the README's markdown table: one column per starting point, one row per measure. */
export function markdownTable(r: DemoResults): string {
  const masked = `${Math.round(100 * r.model.maskRatio)}% masked`;
  return [
    `| ${r.heldOut} held-out digits | pre-trained MAE encoder | same encoder, random init | raw pixels |`,
    "| --- | ---: | ---: | ---: |",
    `| linear probe (fit on ${r.probes.trainSize} train digits) | ${pct(r.probes.pretrained.linear)} | ${pct(r.probes.random.linear)} | ${pct(r.probes.pixels.linear)} |`,
    `| k-NN, k = ${r.probes.k} | ${pct(r.probes.pretrained.knn)} | ${pct(r.probes.random.knn)} | ${pct(r.probes.pixels.knn)} |`,
    `| fine-tuned, ${r.finetune.steps} steps of ${r.finetune.batchSize} | ${pct(r.finetune.pretrained)} | ${pct(r.finetune.scratch)} (from scratch) | – |`,
    `| masked-patch MSE (${masked}) | ${r.reconstruction.mse.toFixed(4)} | – | ${r.reconstruction.meanOfVisibleMse.toFixed(4)} (mean of visible) |`,
    "",
    `${r.pretrain.steps} pre-training steps of ${r.pretrain.batchSize} on the ${r.backend} backend; ${r.minutes.toFixed(1)} min in all, ` +
      `finished ${r.date}, load average ${loads(r.load.start)} at the start, ${loads(r.load.end)} at the end.`,
    "",
  ].join("\n");
}

function loads(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(" / ");
}
