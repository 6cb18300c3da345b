// The one retry the harness allows itself: a boot that failed for infrastructure reasons
// (a stalled guest, a crashed QEMU) is tried once more. An assertion failure (the image's
// fault), bad input or an interrupt never is.
import { InfraError, type Stage } from '../errors.js';

export interface Retry {
  stage: Stage;
  reason: string;
}

const RETRIABLE: readonly Stage[] = ['vm', 'session'];

export function isRetriable(e: unknown, signal?: AbortSignal): e is InfraError {
  return e instanceof InfraError && RETRIABLE.includes(e.stage) && !signal?.aborted;
}

/** Runs `attempt(1)`; on a retriable failure, `beforeRetry` cleans up and `attempt(2)` decides. */
export async function retryInfraOnce<T>(
  attempt: (n: number) => Promise<T>,
  opts: { signal?: AbortSignal; beforeRetry: (r: Retry) => Promise<void> },
): Promise<T> {
  try {
    return await attempt(1);
  } catch (e) {
    if (!isRetriable(e, opts.signal)) throw e;
    await opts.beforeRetry({ stage: e.stage, reason: e.message.split('\n')[0]! });
    return attempt(2);
  }
}
