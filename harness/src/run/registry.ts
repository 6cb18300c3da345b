// Every run's work directory holds run.json: who owns the run (a process, named so that a
// reused pid is not mistaken for it), where its VM listens, what it keeps. `list`, `ssh`,
// `suites` and `stop` read it; a later run reads it to tell an abandoned run (its owner
// killed without teardown) from a live one.
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { allWorkRoots, workDir } from '../util/paths.js';
import { isAlive, type ProcessId } from '../util/process-id.js';


export const RECORD_FILE = 'run.json';

export interface RunRecord {
  runId: string;
  source: string;
  owner: ProcessId;
  startedAt: string;
  runDir: string;
  /** Set once the run hands its VM over (--keep): the VM outlives its owner until `stop`. */
  kept?: {
    at: string;
    qemu: ProcessId;
    swtpm?: ProcessId;
    sshPort: number;
    privateKeyPath: string;
    knownHostsPath: string;
    contextPath: string;
    qmpSocket: string;
    consoleLog: string;
  };
  /** Images the run made for itself (a directory source's), removed when the run is cleaned up. */
  images?: string[];
}

export function writeRecord(work: string, r: RunRecord): void {
  const tmp = join(work, `.${RECORD_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(r, null, 2), { mode: 0o600 });
  renameSync(tmp, join(work, RECORD_FILE));
}

export function readRecord(work: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(work, RECORD_FILE), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

export type RunState = 'running' | 'kept' | 'abandoned';

export interface RunEntry {
  dir: string;
  runId: string;
  record?: RunRecord;
  state: RunState;
}

/** A work directory with no record younger than this may be a run between mkdir and its record. */
const UNRECORDED_GRACE_MS = 60_000;

/** Pure: a run's state from its record and what is alive. */
export function stateOf(r: RunRecord | undefined, alive: (p: ProcessId | undefined) => boolean, ageMs: number): RunState {
  if (!r) return ageMs < UNRECORDED_GRACE_MS ? 'running' : 'abandoned';
  if (alive(r.owner)) return 'running';
  if (r.kept && alive(r.kept.qemu)) return 'kept';
  return 'abandoned';
}

/** Every run with a work directory under `root` (this process's work root by default), live or not. */
export function listRuns(root = workDir()): RunEntry[] {
  if (!existsSync(root)) return [];
  const out: RunEntry[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    let st;
    try {
      st = statSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    const record = readRecord(dir);
    out.push({ dir, runId: name, ...(record ? { record } : {}), state: stateOf(record, isAlive, Date.now() - st.mtimeMs) });
  }
  return out;
}

/** Ids of the runs still at work (or kept) under any work root of this machine, lanes included. */
export function liveRunIds(): Set<string> {
  return new Set(allWorkRoots().flatMap((root) => listRuns(root).filter((e) => e.state !== 'abandoned').map((e) => e.runId)));
}

/** The run RUN names (its id, a unique prefix of it, or "latest": the newest) among runs in `states`. */
export function findRun(name: string, states: readonly RunState[]): RunEntry {
  const pool = listRuns().filter((e) => states.includes(e.state));
  const match = name === 'latest' ? pool.slice(-1) : pool.filter((e) => e.runId === name || e.runId.startsWith(name));
  const what = states.join(' or ');
  if (match.length === 0) throw new UsageError(`no ${what} run "${name}"${pool.length ? ` (${what}: ${pool.map((e) => e.runId).join(', ')})` : states.includes('kept') ? ' (none is kept: run test-install --keep)' : ''}`);
  if (match.length > 1) throw new UsageError(`"${name}" names ${match.length} ${what} runs: ${match.map((e) => e.runId).join(', ')}`);
  return match[0]!;
}

export type KeptRun = RunEntry & { record: RunRecord & { kept: NonNullable<RunRecord['kept']> } };

/** The kept run RUN names: its VM is up and reachable. */
export function findKeptRun(name: string): KeptRun {
  return findRun(name, ['kept']) as KeptRun;
}
