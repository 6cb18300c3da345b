// A lock shared between processes (proper-lockfile: a directory whose mtime the
// holder refreshes, so a killed holder's lock goes stale instead of blocking forever).
import lockfile from 'proper-lockfile';
import { InfraError } from '../errors.js';
import { poll } from './deadline.js';

export interface LockOptions {
  what: string;
  /** How long to wait for another holder before giving up. */
  budgetMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: () => void;
}

/** A holder that stopped refreshing the lock this long ago is gone. */
const STALE_MS = 60_000;

export async function withLock<T>(lockPath: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  let waited = false;
  let compromised: Error | undefined;
  const release = await poll(
    async () => {
      try {
        const r = await lockfile.lock(lockPath, {
          lockfilePath: lockPath,
          realpath: false,
          stale: STALE_MS,
          retries: 0,
          onCompromised: (e) => (compromised = e),
        });
        return { done: true as const, value: r };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
        if (!waited) opts.onWait?.();
        waited = true;
        return { done: false as const, diagnostic: `${lockPath} is held by another process` };
      }
    },
    // The holder's own work is bounded by the same budget; a little more covers its cleanup.
    { what: `${opts.what}: lock`, budgetMs: opts.budgetMs + 60_000, initialDelayMs: 500, maxDelayMs: 5_000, signal: opts.signal },
  ).catch((e) => {
    if (opts.signal?.aborted) throw e;
    throw new InfraError('fixture', `${opts.what}: ${(e as Error).message}`, { cause: e });
  });
  try {
    const v = await fn();
    if (compromised) throw new InfraError('fixture', `${opts.what}: lost its lock ${lockPath} while working (${compromised.message})`);
    return v;
  } finally {
    await release().catch(() => undefined);
  }
}
