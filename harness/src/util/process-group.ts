// Stopping a process group for sure: SIGTERM, then SIGKILL when it does not exit in time.
import { withDeadline } from './deadline.js';

/** What killGroup needs of a child process: its pid, and whether it has exited. */
export interface GroupLeader {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
}

export async function killGroup(child: GroupLeader, exited: Promise<unknown>, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null) {
    await exited;
    return;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  try {
    await withDeadline(exited, graceMs, `process ${pid} exit after SIGTERM`);
  } catch {
    signal('SIGKILL');
    await exited;
  }
}
