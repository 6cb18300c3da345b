// Times each stage against its budget and turns unexpected errors into
// InfraErrors that name the stage.
import { AssertionFailure, InfraError, UsageError, type Stage } from '../errors.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';
import type { StageRecord } from '../report/summary.js';
import { emitter, type EventSink } from '../report/events.js';

export class StageClock {
  readonly records: StageRecord[] = [];
  private emit: ReturnType<typeof emitter>;

  /** `events` hears each stage start and end. */
  constructor(events?: EventSink) {
    this.emit = emitter(events);
  }

  async run<T>(name: Stage, budgetMs: number, fn: () => Promise<T>, opts: { cached?: (v: T) => boolean; consoleTail?: () => string | undefined } = {}): Promise<T> {
    const start = Date.now();
    this.emit({ event: 'stage-start', stage: name });
    try {
      const v = await withDeadline(fn(), budgetMs, `${name} stage`);
      this.record({ name, ms: Date.now() - start, cached: opts.cached?.(v) ?? false });
      return v;
    } catch (e) {
      const err = normalise(name, e, budgetMs, opts.consoleTail?.());
      this.record({ name, ms: Date.now() - start, cached: false, error: err.message });
      throw err;
    }
  }

  private record(r: StageRecord): void {
    this.records.push(r);
    this.emit({ event: 'stage-end', stage: r.name, ms: r.ms, cached: r.cached, ...(r.error ? { error: r.error } : {}) });
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
