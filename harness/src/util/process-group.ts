// Stopping a process group for sure: SIGTERM, then SIGKILL when it does not exit in time;
// done only once no process of the group is left (the leader reaped, and any process it
// started in its group gone too), so a check right after finds nothing.
import { DeadlineExceeded, poll, withDeadline } from './deadline.js';

/** What killGroup needs of a child process: its pid, and whether it has exited. */
export interface GroupLeader {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
}

/** Is any process (a zombie included: it still holds its pid) left in process group `pgid`? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function groupGoneWithin(pgid: number, budgetMs: number): Promise<boolean> {
  try {
    await poll(async () => (groupAlive(pgid) ? { done: false as const, diagnostic: `process group ${pgid} not empty` } : { done: true as const, value: undefined }), { what: `process group ${pgid} exit`, budgetMs, initialDelayMs: 10, maxDelayMs: 100 });
    return true;
  } catch (e) {
    if (e instanceof DeadlineExceeded) return false;
    throw e;
  }
}

export async function killGroup(child: GroupLeader, exited: Promise<unknown>, graceMs: number): Promise<void> {
  const pid = child.pid;
  const signal = (sig: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        if (child.exitCode === null) process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (pid !== undefined && child.exitCode === null) {
    signal('SIGTERM');
    try {
      await withDeadline(exited, graceMs, `process ${pid} exit after SIGTERM`);
    } catch {
      signal('SIGKILL');
    }
  }
  await exited;
  if (pid === undefined) return;
  // The leader is reaped; what it started in its group may still be going (virtiofsd's sandbox child).
  if (await groupGoneWithin(pid, graceMs)) return;
  signal('SIGKILL');
  if (!(await groupGoneWithin(pid, 5_000))) throw new Error(`process group ${pid} still has a process 5 s after SIGKILL`);
}
