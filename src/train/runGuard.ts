// What a training loop does when a step goes wrong (issue 13), for pre-training and fine-tuning alike: a
// loss or gradient that is not finite, or a loss that explodes (the divergence rule), stops the run before
// it saves over its last good checkpoint; any other failure (an unreadable image, a full disk) saves the
// run so far first, as Ctrl-C does.

/** The run stopped because it diverged: the parameters are bad, so nothing was saved after it. */
export class DivergenceError extends Error {
  override name = "DivergenceError";
}

/** The loss or a gradient became NaN or ±Infinity. */
export class NonFiniteLossError extends DivergenceError {
  override name = "NonFiniteLossError";
}

/** A step failed for another reason (an unreadable image, a full disk): the run so far was saved first. */
export class StepFailedError extends Error {
  override name = "StepFailedError";
}

/**
 * The divergence rule: a step whose loss exceeds DIVERGENCE_FACTOR times the running mean of the
 * losses before it (an exponential moving average, weight RUNNING_DECAY on the past; saved with each
 * checkpoint, so a resumed run applies the same rule) and the trainer's floor stops the run, as a
 * non-finite loss does. Healthy runs move by a few percent per step; a tenfold jump is the start of a
 * blow-up (a bad learning rate, a damaged resume), and stopping there keeps the last good checkpoint
 * from being saved over. The floor keeps small losses, which may jump tenfold without harm, out of it.
 */
export const DIVERGENCE_FACTOR = 10;
export const RUNNING_DECAY = 0.9;

export interface RunGuardOptions {
  outDir: string;
  /** The losses under which no jump counts as an explosion (pre-training's normalised-pixel MSE: 1). */
  divergenceFloor: number;
  /** Where a resumed run started, and the running mean saved with that checkpoint (absent in older ones). */
  resume?: { step: number; runningLoss?: number | null };
  /** Saves the run at its current step (asynchronous: a GPU backend's tensors are read with await). */
  save: () => Promise<void>;
}

/** A training run's watch over its steps: the running loss, the last save, and how a stop is worded. */
export class RunGuard {
  /** The running mean of the losses so far (saved with each checkpoint), null before the first step. */
  runningLoss: number | null;
  private lastSaved: number | null = null;

  constructor(private readonly opts: RunGuardOptions) {
    this.runningLoss = opts.resume?.runningLoss ?? null;
  }

  /** Saves the run at `step` (and remembers it as the last good checkpoint). */
  async save(step: number): Promise<void> {
    await this.opts.save();
    this.lastSaved = step;
  }

  /**
   * Step `step + 1` gave `loss`; `applied` is false when its update was skipped (a non-finite loss or
   * gradient). Throws, without saving, when the run must stop; otherwise takes the loss into the mean.
   */
  check(step: number, loss: number, applied: boolean): void {
    if (!applied) {
      const what = Number.isFinite(loss) ? `the gradients became non-finite (loss ${loss})` : `the loss became ${loss}`;
      throw new NonFiniteLossError(this.stopping(what, step));
    }
    const running = this.runningLoss;
    if (running !== null && loss > DIVERGENCE_FACTOR * running && loss > this.opts.divergenceFloor) {
      const ratio = `over ${DIVERGENCE_FACTOR}× its running mean ${running.toPrecision(4)}`;
      throw new DivergenceError(this.stopping(`the loss exploded to ${loss} (${ratio})`, step));
    }
    this.runningLoss = running === null ? loss : RUNNING_DECAY * running + (1 - RUNNING_DECAY) * loss;
  }

  /** Why the run stops at step `step + 1`, and where its last good checkpoint is. */
  private stopping(what: string, step: number): string {
    const { outDir, resume } = this.opts;
    const kept =
      this.lastSaved !== null
        ? `The last good checkpoint (step ${this.lastSaved}) is kept in ${outDir}`
        : resume
          ? `No checkpoint was saved since the run resumed at step ${resume.step}`
          : "No checkpoint was saved before it";
    return `${what} at step ${step + 1}; stopping. ${kept}. Try a lower --blr, --clip-grad, or check the data.`;
  }

  /**
   * A failure other than divergence after `step` completed steps (reading a batch, evaluating): the run
   * so far is saved first, unless there is nothing new to save. `during` says where it happened (default:
   * "at step N+1", whose batches had not touched the parameters yet).
   */
  async failed(e: unknown, step: number, during = `at step ${step + 1}`): Promise<StepFailedError> {
    const message = e instanceof Error ? e.message : String(e);
    const resumedAt = this.opts.resume?.step;
    if (step === (resumedAt ?? 0)) {
      const since = resumedAt !== undefined ? `since the run resumed at step ${resumedAt}` : "before it";
      return new StepFailedError(`${message} (${during}; no step was completed ${since})`, { cause: e });
    }
    if (this.lastSaved !== step) {
      try {
        await this.save(step);
      } catch (saveError) {
        return new StepFailedError(
          `${message} (${during}; saving the run so far failed too: ${(saveError as Error).message})`,
          { cause: e },
        );
      }
    }
    return new StepFailedError(`${message} (${during}; the run up to step ${step} is saved in ${this.opts.outDir})`, {
      cause: e,
    });
  }
}
