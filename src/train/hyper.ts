// The training runs' hyperparameters (pre-training, fine-tuning): their types, how a checkpoint records
// them, and the ranges a run may use — checked for a run's own (library) input and for a saved
// trainer_state.json that a hand or a disk may have changed (issue 13: a saved lr of −5 trained backwards).

export interface PretrainHyper {
  batchSize: number;
  /** Micro-batches per optimizer step (effective batch = batchSize × accumIter). */
  accumIter: number;
  totalSteps: number;
  /** The absolute peak learning rate (already scaled from blr if that was given). */
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  clipGrad: number | null;
  maskRatio: number;
  augment: boolean;
}

export interface FinetuneHyper {
  batchSize: number;
  /** Micro-batches per optimizer step (effective batch = batchSize × accumIter). */
  accumIter: number;
  epochs: number;
  totalSteps: number;
  /** The absolute peak learning rate (already scaled from blr if that was given). */
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  layerDecay: number;
  /** Drop path rate of the last block (MAE: 0.1). */
  dropPath: number;
  betas: [number, number];
  clipGrad: number | null;
  /** Mixup / cutmix Beta α (0: off), the probability of mixing a batch, of cutmix over mixup. */
  mixup: number;
  cutmix: number;
  mixupProb: number;
  switchProb: number;
  /** Label smoothing (MAE: 0.1). */
  smoothing: number;
  /** Random resized crop (scale from cropScaleMin to 1) and, when flip, horizontal flips. */
  augment: boolean;
  cropScaleMin: number;
  flip: boolean;
}

/** Hyperparameters as trainer_state.json records them (betas as "β1,β2"). */
export type Saved<H extends { betas: [number, number] }> = Omit<H, "betas"> & { betas: string };
export type SavedHyper = Saved<PretrainHyper>;

export const toSaved = <H extends { betas: [number, number] }>(h: H): Saved<H> => ({
  ...h,
  betas: h.betas.join(","),
});

/** Each field's rule, as the problem to report when it fails. */
type Rules<H> = { [K in keyof H]-?: [ok: (v: unknown) => boolean, rule: string] };

const isInt = (v: unknown, min: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isNum = (v: unknown, min: number) => typeof v === "number" && Number.isFinite(v) && v >= min;
const inRange = (v: unknown, min: number, max: number) => isNum(v, min) && (v as number) <= max;
const below = (v: unknown, min: number, max: number) => isNum(v, min) && (v as number) < max;

/** What both trainers share: the batch, the schedule, AdamW and clipping. */
const COMMON = {
  batchSize: [(v: unknown) => isInt(v, 1), "an integer >= 1"],
  accumIter: [(v: unknown) => isInt(v, 1), "an integer >= 1"],
  totalSteps: [(v: unknown) => isInt(v, 1), "an integer >= 1"],
  lr: [(v: unknown) => isNum(v, 0), "a finite number >= 0"],
  minLr: [(v: unknown) => isNum(v, 0), "a finite number >= 0"],
  warmupSteps: [(v: unknown) => isInt(v, 0), "an integer >= 0"],
  weightDecay: [(v: unknown) => isNum(v, 0), "a finite number >= 0"],
  betas: [
    (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((b) => below(b, 0, 1)),
    "two numbers in [0, 1)",
  ],
  clipGrad: [(v: unknown) => v === null || (isNum(v, 0) && (v as number) > 0), "null or a number > 0"],
  augment: [(v: unknown) => typeof v === "boolean", "true or false"],
} satisfies Rules<Pick<PretrainHyper & FinetuneHyper, keyof PretrainHyper & keyof FinetuneHyper>>;

const PRETRAIN_RULES: Rules<PretrainHyper> = {
  ...COMMON,
  maskRatio: [(v) => isNum(v, 0) && (v as number) > 0 && (v as number) < 1, "a number in (0, 1)"],
};

const FINETUNE_RULES: Rules<FinetuneHyper> = {
  ...COMMON,
  epochs: [(v) => isNum(v, 0) && (v as number) > 0, "a finite number > 0"],
  layerDecay: [(v) => inRange(v, 0, 1), "a number in [0, 1]"],
  dropPath: [(v) => below(v, 0, 1), "a number in [0, 1)"],
  mixup: [(v) => isNum(v, 0), "a finite number >= 0"],
  cutmix: [(v) => isNum(v, 0), "a finite number >= 0"],
  mixupProb: [(v) => inRange(v, 0, 1), "a number in [0, 1]"],
  switchProb: [(v) => inRange(v, 0, 1), "a number in [0, 1]"],
  smoothing: [(v) => below(v, 0, 1), "a number in [0, 1)"],
  cropScaleMin: [(v) => isNum(v, 0) && (v as number) > 0 && (v as number) <= 1, "a number in (0, 1]"],
  flip: [(v) => typeof v === "boolean", "true or false"],
};

/** Every problem with hyperparameters by `rules`, as "hyper.field: value (must be …)"; empty when usable. */
function problemsBy<H>(rules: Rules<H>, h: unknown): string[] {
  if (typeof h !== "object" || h === null || Array.isArray(h))
    return [`hyper: ${h === undefined ? "missing" : JSON.stringify(h)} (must be an object)`];
  const o = h as Record<string, unknown>;
  return (Object.keys(rules) as (keyof H & string)[]).flatMap((k) => {
    const [ok, rule] = rules[k];
    return ok(o[k]) ? [] : [`hyper.${k}: ${o[k] === undefined ? "missing" : JSON.stringify(o[k])} (must be ${rule})`];
  });
}

/** The saved record back as hyperparameters (its fields only, betas as a pair), or every problem with it. */
function parseSaved<H>(rules: Rules<H>, saved: unknown): { hyper: H; problems: [] } | { problems: string[] } {
  if (typeof saved !== "object" || saved === null || Array.isArray(saved))
    return { problems: problemsBy(rules, saved) };
  const o = saved as Record<string, unknown>;
  const candidate = { ...o, betas: typeof o.betas === "string" ? o.betas.split(",").map(Number) : o.betas };
  const problems = problemsBy(rules, candidate);
  if (problems.length > 0) return { problems };
  const hyper = Object.fromEntries(Object.keys(rules).map((k) => [k, candidate[k as keyof typeof candidate]]));
  return { hyper: hyper as H, problems: [] };
}

/** Every problem with a pre-training run's hyperparameters; empty when they are usable. */
export const hyperProblems = (h: unknown): string[] => problemsBy(PRETRAIN_RULES, h);

/** A pre-training run's saved record back as hyperparameters, or every problem with it. */
export const fromSaved = (saved: unknown) => parseSaved(PRETRAIN_RULES, saved);

/** Every problem with a fine-tuning run's hyperparameters (mixing pairs images: an even batch); empty when usable. */
export function finetuneHyperProblems(h: unknown): string[] {
  const problems = problemsBy(FINETUNE_RULES, h);
  const f = h as Partial<FinetuneHyper>;
  if (problems.length === 0 && ((f.mixup ?? 0) > 0 || (f.cutmix ?? 0) > 0) && (f.batchSize ?? 0) % 2 !== 0)
    problems.push(`hyper.batchSize: ${f.batchSize} (must be even while mixup or cutmix is on: they pair images)`);
  return problems;
}

/** A fine-tuning run's saved record back as hyperparameters, or every problem with it. */
export function finetuneFromSaved(saved: unknown): { hyper: FinetuneHyper; problems: [] } | { problems: string[] } {
  const parsed = parseSaved(FINETUNE_RULES, saved);
  if (parsed.problems.length > 0) return parsed;
  const problems = finetuneHyperProblems((parsed as { hyper: FinetuneHyper }).hyper);
  return problems.length > 0 ? { problems } : parsed;
}
