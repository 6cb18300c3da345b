// Whether a process still runs, for the tests that stop a process (and what it forked).
import { readFileSync } from 'node:fs';

/** Running, as opposed to gone or a zombie (an orphan's reaper may not have collected it yet). */
export function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
