// A process named so that a reused pid is not mistaken for it: pid, start time, boot.
import { readFileSync } from 'node:fs';

/** A process as the kernel names it: a pid alone may be reused by another process later. */
export interface ProcessId {
  pid: number;
  /** /proc/PID/stat starttime (clock ticks after boot) */
  start: number;
  bootId: string;
}

export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Pure: the starttime field of /proc/PID/stat (the comm field may hold spaces and parentheses). */
export function startTimeOf(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after comm start at field 3 (state); starttime is field 22.
  return Number(rest[22 - 3]);
}

export function processId(pid: number): ProcessId | undefined {
  try {
    return { pid, start: startTimeOf(readFileSync(`/proc/${pid}/stat`, 'utf8')), bootId: bootId() };
  } catch {
    return undefined;
  }
}

/** Is this exact process (not a later one with the same pid) still running? */
export function isAlive(p: ProcessId | undefined): boolean {
  if (!p) return false;
  const now = processId(p.pid);
  return now !== undefined && now.start === p.start && now.bootId === p.bootId;
}

