// Cleaning up a run that did not (or could not) clean up after itself: a run killed with
// SIGKILL, a kept VM being stopped. Everything is found by the run's id (processes whose
// command line names its work directory, `bh-RUNID-*` containers, mounts and loop devices
// under it), so nothing of another run is touched.
import { readFileSync, rmSync } from 'node:fs';
import { removeImage } from '../image/buildah.js';
import { run } from '../util/exec.js';
import { findLeftovers } from './leftovers.js';
import { passtDirs } from '../vm/passt.js';
import { removeTree } from '../util/remove-tree.js';
import { poll } from '../util/deadline.js';
import { listRuns, type RunEntry } from './registry.js';

const STAGE = { stage: 'shutdown' as const };

/** Stops a process we did not start (no child handle): SIGTERM, then SIGKILL once its grace runs out. */
export async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  const gone = () => {
    try {
      // A zombie has exited; only its parent's wait is missing.
      return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (gone()) return;
  send('SIGTERM');
  const waitGone = (budgetMs: number) =>
    poll(async () => (gone() ? { done: true as const, value: undefined } : { done: false as const, diagnostic: `pid ${pid} still running` }), {
      what: `process ${pid} exit`,
      budgetMs,
      initialDelayMs: 20,
      maxDelayMs: 250,
    });
  try {
    await waitGone(graceMs);
  } catch {
    send('SIGKILL');
    await waitGone(5_000);
  }
}

/** Removes everything of one run: its processes, containers, mounts, loop devices, images and work directory. */
export async function cleanupRun(entry: RunEntry): Promise<string[]> {
  const done: string[] = [];
  const mine = await findLeftovers(entry.runId);
  for (const l of mine.filter((x) => x.kind === 'process')) {
    await stopProcess(l.pid!);
    done.push(`stopped ${l.what.split(' ').slice(0, 2).join(' ')}`);
  }
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
