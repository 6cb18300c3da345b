// Times each stage against its budget and turns unexpected errors into
// InfraErrors that name the stage.
import { AssertionFailure, InfraError, UsageError, type Stage } from '../errors.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';
import type { StageRecord } from '../report/summary.js';

export class StageClock {
  readonly records: StageRecord[] = [];

  async run<T>(name: Stage, budgetMs: number, fn: () => Promise<T>, opts: { cached?: (v: T) => boolean; consoleTail?: () => string | undefined } = {}): Promise<T> {
    const start = Date.now();
    try {
      const v = await withDeadline(fn(), budgetMs, `${name} stage`);
      this.records.push({ name, ms: Date.now() - start, cached: opts.cached?.(v) ?? false });
      return v;
    } catch (e) {
      const err = normalise(name, e, budgetMs, opts.consoleTail?.());
      this.records.push({ name, ms: Date.now() - start, cached: false, error: err.message });
      throw err;
    }
  }
}

export function normalise(stage: Stage, e: unknown, budgetMs?: number, consoleTail?: string): Error {
  if (e instanceof UsageError || e instanceof AssertionFailure || e instanceof InfraError) return e;
  if (e instanceof DeadlineExceeded) {
    // Keep what the last attempt said (poll's "last try: …"): the budget alone names no cause.
    const lastTry = /; last try: (.*)$/s.exec(e.message)?.[1];
    return new InfraError(stage, `${e.what} exceeded its budget of ${(e.budgetMs / 1000).toFixed(0)} s${lastTry ? ` (last try: ${lastTry})` : ''}`, { budgetMs: budgetMs ?? e.budgetMs, consoleTail, cause: e });
  }
  return new InfraError(stage, e instanceof Error ? e.message : String(e), { cause: e, consoleTail });
}

/** Something to race a stage against: rejects (an infrastructure error, "interrupted") once `signal` aborts. */
export function interruption(signal: AbortSignal): () => Promise<never> {
  return () =>
    new Promise<never>((_, reject) => {
      if (signal.aborted) return reject(new InfraError('input', 'interrupted'));
      signal.addEventListener('abort', () => reject(new InfraError('input', 'interrupted')), { once: true });
    });
}
