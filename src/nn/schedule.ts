// Learning-rate schedules as MAE's util/lr_sched.py: linear warmup, then a half-cycle cosine.

export interface CosineSchedule {
  /** The peak learning rate (after warmup). */
  lr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** lr at a (possibly fractional) step: MAE adjusts per iteration with epoch = step / itersPerEpoch. */
export function lrAt(s: CosineSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.minLr + (s.lr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** MAE's linear scaling rule: lr = blr × effective batch / 256. */
export const scaledLr = (blr: number, effectiveBatch: number): number => (blr * effectiveBatch) / 256;
