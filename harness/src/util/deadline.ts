// Every wait is an event raced against a deadline. These are the only helpers
// that own timers; nothing else in the harness sleeps.

export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  constructor(readonly what: string, readonly budgetMs: number) {
    super(`${what}: no result within ${budgetMs < 1000 ? `${budgetMs} ms` : `${(budgetMs / 1000).toFixed(0)} s`}`);
  }
}

/**
 * Resolves with the first of `promise`, or rejects when `ms` pass (DeadlineExceeded)
 * or when `signal` aborts. The timer never keeps the process alive.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new DeadlineExceeded(what, ms))), ms);
    timer.unref?.();
    const onAbort = () => finish(() => reject(signal?.reason ?? new Error(`${what}: aborted`)));
    let done = false;
    function finish(f: () => void) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    }
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}

/** Rejects with the signal's reason once it aborts: one more contender for a race that must end then. */
export function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Waits `ms` unless `signal` aborts first. Only `poll` uses this, for its backoff. */
function backoffDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface PollOptions {
  what: string;
  budgetMs: number;
  signal?: AbortSignal;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export type PollStep<T> = { done: true; value: T } | { done: false; diagnostic: string };

/**
 * The one helper for polling guest or host state: retries `attempt` with exponential
 * backoff until it reports done, the budget runs out (the error carries the last
 * attempt's diagnostic), `attempt` throws (a definite failure), or `signal` aborts.
 */
export async function poll<T>(attempt: () => Promise<PollStep<T>>, opts: PollOptions): Promise<T> {
  const start = Date.now();
  let delay = opts.initialDelayMs ?? 100;
  const maxDelay = opts.maxDelayMs ?? 2000;
  let last = 'no attempt finished';
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const left = opts.budgetMs - (Date.now() - start);
    if (left <= 0) {
      const err = new DeadlineExceeded(opts.what, opts.budgetMs);
      err.message += `; last try: ${last}`;
      throw err;
    }
    let step: PollStep<T>;
    try {
      step = await withDeadline(attempt(), left, opts.what, opts.signal);
    } catch (e) {
      // An attempt that throws means "stop": only a {done:false} answer is retried.
      if (e instanceof DeadlineExceeded) {
        const err = new DeadlineExceeded(opts.what, opts.budgetMs);
        err.message += `; last try: ${last}`;
        throw err;
      }
      throw e;
    }
    if (step.done) return step.value;
    last = step.diagnostic;
    await backoffDelay(Math.min(delay, Math.max(0, opts.budgetMs - (Date.now() - start))), opts.signal);
    delay = Math.min(maxDelay, delay * 2);
  }
}
