// The pre-training run's hyperparameters: their type, how a checkpoint records them, and the ranges a
// run may use — checked for a run's own (library) input and for a saved trainer_state.json that a
// hand or a disk may have changed (issue 13: a saved lr of −5 trained backwards).

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

/** The hyperparameters as trainer_state.json records them (betas as "β1,β2"). */
export type SavedHyper = Omit<PretrainHyper, "betas"> & { betas: string };

export const toSaved = (h: PretrainHyper): SavedHyper => ({ ...h, betas: h.betas.join(",") });

const isInt = (v: unknown, min: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isNum = (v: unknown, min: number) => typeof v === "number" && Number.isFinite(v) && v >= min;

/** Each field's rule, as the problem to report when it fails. */
const RULES: { [K in keyof PretrainHyper]: [ok: (v: unknown) => boolean, rule: string] } = {
  batchSize: [(v) => isInt(v, 1), "an integer >= 1"],
  accumIter: [(v) => isInt(v, 1), "an integer >= 1"],
  totalSteps: [(v) => isInt(v, 1), "an integer >= 1"],
  lr: [(v) => isNum(v, 0), "a finite number >= 0"],
  minLr: [(v) => isNum(v, 0), "a finite number >= 0"],
  warmupSteps: [(v) => isInt(v, 0), "an integer >= 0"],
  weightDecay: [(v) => isNum(v, 0), "a finite number >= 0"],
  betas: [
    (v) => Array.isArray(v) && v.length === 2 && v.every((b) => isNum(b, 0) && (b as number) < 1),
    "two numbers in [0, 1)",
  ],
  clipGrad: [(v) => v === null || (isNum(v, 0) && (v as number) > 0), "null or a number > 0"],
  maskRatio: [(v) => isNum(v, 0) && (v as number) > 0 && (v as number) < 1, "a number in (0, 1)"],
  augment: [(v) => typeof v === "boolean", "true or false"],
};

/** Every problem with a run's hyperparameters, as "field: value (must be …)"; empty when they are usable. */
export function hyperProblems(h: unknown): string[] {
  if (typeof h !== "object" || h === null || Array.isArray(h))
    return [`hyper: ${JSON.stringify(h)} (must be an object)`];
  const o = h as Record<string, unknown>;
  return (Object.keys(RULES) as (keyof PretrainHyper)[]).flatMap((k) => {
    const [ok, rule] = RULES[k];
    return ok(o[k]) ? [] : [`hyper.${k}: ${o[k] === undefined ? "missing" : JSON.stringify(o[k])} (must be ${rule})`];
  });
}

/** The saved record back as hyperparameters, or every problem with it. */
export function fromSaved(saved: unknown): { hyper: PretrainHyper; problems: [] } | { problems: string[] } {
  if (typeof saved !== "object" || saved === null || Array.isArray(saved))
    return { problems: [`hyper: ${saved === undefined ? "missing" : JSON.stringify(saved)} (must be an object)`] };
  const o = saved as Record<string, unknown>;
  const betas = typeof o.betas === "string" ? o.betas.split(",").map(Number) : o.betas;
  const candidate = { ...o, betas };
  const problems = hyperProblems(candidate);
  if (problems.length > 0) return { problems };
  const h = candidate as unknown as PretrainHyper;
  const hyper: PretrainHyper = {
    batchSize: h.batchSize,
    accumIter: h.accumIter,
    totalSteps: h.totalSteps,
    lr: h.lr,
    minLr: h.minLr,
    warmupSteps: h.warmupSteps,
    weightDecay: h.weightDecay,
    betas: [h.betas[0], h.betas[1]],
    clipGrad: h.clipGrad,
    maskRatio: h.maskRatio,
    augment: h.augment,
  };
  return { hyper, problems: [] };
}
