// Cleaning up a run that did not (or could not) clean up after itself: a run killed with
// SIGKILL, a kept VM being stopped. Everything is found by the run's id (processes whose
// command line names its work directory, `bh-RUNID-*` containers, mounts and loop devices
// under it), so nothing of another run is touched.
import { readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { InfraError } from '../errors.js';
import { removeImage } from '../image/buildah.js';
import { isAlive, processId, type ProcessId } from '../util/process-id.js';
import { run } from '../util/exec.js';
import { findLeftovers } from './leftovers.js';
import { passtDirs } from '../vm/passt.js';
import { removeTree } from '../util/remove-tree.js';
import { DeadlineExceeded, poll } from '../util/deadline.js';
import { listRuns, type RunEntry } from './registry.js';

const STAGE = { stage: 'shutdown' as const };

/** How a process ended when it was stopped: on its own, on SIGTERM, or only on SIGKILL. */
export type Ending = 'exited' | 'stopped' | 'killed';

/**
 * Gone for good: reaped (no /proc entry), or its pid now names a later process. A zombie is
 * not gone yet: it still holds its pid and pgrep still lists it, so a caller that checks
 * "nothing left" the moment we return would race its parent's wait.
 */
const ended = (p: ProcessId) => !isAlive(p);

function zombie(pid: number): boolean {
  try {
    return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits (an event polled against a deadline) for the process to be gone; false when the budget ran out first. */
async function endedWithin(p: ProcessId, budgetMs: number): Promise<boolean> {
  try {
    await poll(async () => (ended(p) ? { done: true as const, value: undefined } : { done: false as const, diagnostic: `pid ${p.pid} ${zombie(p.pid) ? 'exited, not yet reaped' : 'still running'}` }), {
      what: `process ${p.pid} exit`,
      budgetMs,
      initialDelayMs: 10,
      maxDelayMs: 100,
    });
    return true;
  } catch (e) {
    if (e instanceof DeadlineExceeded) return false;
    throw e;
  }
}

/**
 * Stops a process we did not start (no child handle), and returns only once it is gone
 * (reaped): first `ownExitMs` for it to exit by itself (a powered-off QEMU, a swtpm whose
 * QEMU let go), then SIGTERM and `graceMs`, then SIGKILL. Says which it took.
 */
export async function stopProcess(pid: number | ProcessId, o: { ownExitMs?: number; graceMs?: number } = {}): Promise<Ending> {
  const p = typeof pid === 'number' ? processId(pid) : pid;
  if (!p || ended(p)) return 'exited';
  if (o.ownExitMs && (await endedWithin(p, o.ownExitMs))) return 'exited';
  const send = (sig: NodeJS.Signals) => {
    // Checked again right before: a pid that now names another process is never signalled.
    if (ended(p)) return;
    try {
      process.kill(p.pid, sig);
    } catch {
      /* already gone */
    }
  };
  send('SIGTERM');
  if (await endedWithin(p, o.graceMs ?? 5_000)) return 'stopped';
  send('SIGKILL');
  if (await endedWithin(p, 5_000)) return 'killed';
  throw new InfraError('shutdown', `process ${p.pid} ${zombie(p.pid) ? 'exited but its parent has not reaped it' : 'survived SIGKILL'} 5 s later`);
}

/** Pure: the cleanup step that says how a process ended; a kill says so first. */
export function endingStep(how: Ending, name: string, pid: number): string {
  const it = `${name} (pid ${pid})`;
  return how === 'exited' ? `${it} exited` : how === 'stopped' ? `stopped ${it} with SIGTERM` : `killed ${it}: still running 5 s after SIGTERM`;
}

/** The program a leftover process line names ("1234 /usr/bin/swtpm socket ..." -> "swtpm"). */
const programOf = (what: string) => basename(what.split(' ')[1] ?? '?');

/**
 * Removes everything of one run: its processes (each waited for until gone, rescanned until
 * none is left), containers, mounts, loop devices, images and work directory; then looks
 * again, and fails naming whatever is still there. Returns the steps, in order.
 */
export async function cleanupRun(entry: RunEntry): Promise<string[]> {
  const done: string[] = [];
  for (let round = 0; ; round++) {
    const procs = (await findLeftovers(entry.runId)).filter((x) => x.kind === 'process');
    if (!procs.length) break;
    if (round === 3) throw new InfraError('shutdown', `run ${entry.runId}: processes keep appearing: ${procs.map((x) => x.what).join('; ')}`);
    for (const l of procs) {
      const p = processId(l.pid!);
      if (p) done.push(endingStep(await stopProcess(p), programOf(l.what), p.pid));
    }
  }
  const mine = await findLeftovers(entry.runId);
  for (const l of mine.filter((x) => x.kind === 'container')) {
    await run(['buildah', 'rm', l.what], STAGE);
    done.push(`removed container ${l.what}`);
  }
  for (const l of mine.filter((x) => x.kind === 'loop')) {
    await run(['losetup', '--detach', l.what.split(/\s+/)[0]!], STAGE);
    done.push(`detached ${l.what.split(/\s+/)[0]}`);
  }
  for (const image of entry.record?.images ?? []) {
    await removeImage(image);
    done.push(`removed image ${image}`);
  }
  // A kept outbound run's passt socket directory (passt itself ended with its QEMU).
  for (const d of passtDirs(entry.runId)) {
    rmSync(d, { recursive: true, force: true });
    done.push(`removed ${d}`);
  }
  // Unmounts what is still mounted below it, and never crosses into another filesystem.
  await removeTree(entry.dir, 'shutdown');
  done.push(`removed ${entry.dir}`);
  const left = await findLeftovers(entry.runId);
  if (left.length) throw new InfraError('shutdown', `run ${entry.runId}: still there after cleanup: ${left.map((x) => `${x.kind} ${x.what}`).join('; ')}`);
  return done;
}

/** Cleans up every run whose owner is gone and whose VM was not kept. Returns what it did, a line a run. */
export async function reapAbandoned(): Promise<string[]> {
  const lines: string[] = [];
  for (const e of listRuns().filter((x) => x.state === 'abandoned')) {
    const did = await cleanupRun(e);
    lines.push(`${e.runId}: its owner is gone; ${did.length} cleanup steps (${did.filter((d) => !d.startsWith('removed /')).join(', ') || 'only its work directory'})`);
  }
  return lines;
}
