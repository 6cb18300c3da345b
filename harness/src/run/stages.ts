// Times each stage against its budget and turns unexpected errors into
// InfraErrors that name the stage.
import { AssertionFailure, InfraError, UsageError, type Stage } from '../errors.js';
import { DeadlineExceeded, rejectOnAbort } from '../util/deadline.js';
import type { Teardown } from '../util/teardown.js';
import type { StageRecord } from '../report/summary.js';
import { emitter, type EventSink } from '../report/events.js';

/**
 * What every stage gets: one signal that aborts on Ctrl-C *and* when the stage's budget runs
 * out (so the tools it runs are stopped, not abandoned), the run's log and teardown, and the
 * moment its budget ends (for a step that must finish before the stage does).
 */
export interface StageContext {
  stage: Stage;
  signal: AbortSignal;
  log: (line: string) => void;
  /** Where the stage has got to (a step, a milestone): a live view shows the latest; a log shows each. */
  progress: (text: string) => void;
  teardown: Teardown;
  deadline: number;
}

export class StageClock {
  readonly records: StageRecord[] = [];
  private emit: ReturnType<typeof emitter>;
  private current: Stage | undefined;

  /** `signal` is the run's (Ctrl-C); `events` hears each stage start and end. */
  constructor(private run_: { signal: AbortSignal; log: (line: string) => void; teardown: Teardown; events?: EventSink }) {
    this.emit = emitter(run_.events);
  }

  async run<T>(name: Stage, budgetMs: number, fn: (ctx: StageContext) => Promise<T>, opts: { cached?: (v: T) => boolean; consoleTail?: () => string | undefined } = {}): Promise<T> {
    const start = Date.now();
    this.emit({ event: 'stage-start', stage: name });
    this.current = name;
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(new DeadlineExceeded(`${name} stage`, budgetMs)), budgetMs);
    timer.unref?.();
    const signal = AbortSignal.any([this.run_.signal, budget.signal]);
    try {
      const progress = (text: string) => this.emit({ event: 'progress', stage: name, text });
      const ctx = { stage: name, signal, log: this.run_.log, progress, teardown: this.run_.teardown, deadline: start + budgetMs };
      const v = await untilAborted(fn(ctx), signal);
      this.record({ name, ms: Date.now() - start, cached: opts.cached?.(v) ?? false });
      return v;
    } catch (e) {
      const err = normalise(name, e, budgetMs, opts.consoleTail?.());
      this.record({ name, ms: Date.now() - start, cached: false, error: err.message });
      throw err;
    } finally {
      clearTimeout(timer);
      this.current = undefined;
    }
  }

  /** Progress of whatever stage is running now (a console watch outlives no stage, but starts before one). */
  progress(text: string): void {
    if (this.current) this.emit({ event: 'progress', stage: this.current, text });
  }

  private record(r: StageRecord): void {
    this.records.push(r);
    this.emit({ event: 'stage-end', stage: r.name, ms: r.ms, cached: r.cached, ...(r.error ? { error: r.error } : {}) });
  }
}

/** The stage's work, or its end the moment `signal` aborts: the budget's DeadlineExceeded, or "interrupted". */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const ended = rejectOnAbort(signal).catch((reason: unknown) => {
    throw reason instanceof DeadlineExceeded ? reason : new InfraError('input', 'interrupted');
  });
  return Promise.race([work, ended]);
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
