// A run's places and its teardown: the report directory, the work directory with its
// run.json (who owns the run, what it made), and what is removed when it ends: unless the
// run handed its VM over (--keep), then the VM, work directory and images stay until `stop`.
// Every progress line and stage event of the run is also kept in the report (run.log).
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeImage } from '../image/buildah.js';
import { slug } from '../image/prepare.js';
import { reportsDir, workDir as workRoot } from '../util/paths.js';
import { processId } from '../util/process-id.js';
import { Teardown } from '../util/teardown.js';
import { describeEvent, type EventSink } from '../report/events.js';
import { writeRecord, type RunRecord } from './registry.js';
import { reapAbandoned } from './reap.js';

export interface OpenRun {
  runId: string;
  reports: string;
  runDir: string;
  work: string;
  consoleLog: string;
  startedAt: string;
  td: Teardown;
  /** The caller's log and event sink, each line also written to run.log in the report. */
  log: (line: string) => void;
  events: EventSink;
  /** An image made for this run alone: recorded (so a cleanup after a kill finds it) and removed with the run. */
  ownImage(id: string): void;
  ownsImage(id: string): boolean;
  /** Registers a cleanup that a kept run skips (its VM, TPM, images stay until `stop`). */
  deferUnlessKept(name: string, fn: () => Promise<void> | void): void;
  /** The VM was handed over: recorded in run.json; the deferred cleanups above no longer run. */
  markKept(kept: NonNullable<RunRecord['kept']>): void;
}

export function newRunId(source: string, now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${t}-${slug(source)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** A new run's places and record. First, runs killed without their teardown (SIGKILL, a lost
 *  machine) are cleaned up: whatever is left of a run whose owner is gone (kept VMs stay). */
export async function openRun(sourceName: string, idSource: string, o: { reportDir?: string | undefined; log: (line: string) => void; events?: EventSink | undefined }): Promise<OpenRun> {
  for (const line of await reapAbandoned().catch((e: Error) => [`could not clean up after abandoned runs: ${e.message}`])) o.log(`cleanup: ${line}`);
  const runId = newRunId(idSource);
  const reports = o.reportDir ?? reportsDir();
  const runDir = join(reports, runId);
  const work = join(workRoot(), runId);
  const startedAt = new Date().toISOString();
  mkdirSync(runDir, { recursive: true });
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const record: RunRecord = { runId, source: sourceName, owner: processId(process.pid)!, startedAt, runDir };
  writeRecord(work, record);
  const td = new Teardown();
  let kept = false;
  const deferUnlessKept = (name: string, fn: () => Promise<void> | void) => void td.defer(name, () => (kept ? undefined : fn()));
  deferUnlessKept('remove work dir', () => rmSync(work, { recursive: true, force: true }));
  const runLog = join(runDir, 'run.log');
  const keep = (time: string, text: string) => appendFileSync(runLog, `${time} ${text}\n`);
  return {
    log: (line) => (keep(new Date().toISOString().slice(11, 19), line), o.log(line)),
    events: (e) => {
      // Log lines arrive through log() as well; tests are listed in the report.
      if (e.event === 'stage-start' || e.event === 'stage-end' || e.event === 'progress') {
        const d = describeEvent(e);
        keep(d.time, d.text);
      }
      o.events?.(e);
    },
    runId,
    reports,
    runDir,
    work,
    consoleLog: join(runDir, 'console.log'),
    startedAt,
    td,
    deferUnlessKept,
    ownImage(id) {
      record.images = [...(record.images ?? []), id];
      writeRecord(work, record);
      deferUnlessKept(`remove image ${id}`, () => removeImage(id));
    },
    ownsImage: (id) => record.images?.includes(id) ?? false,
    markKept(k) {
      kept = true;
      record.kept = k;
      writeRecord(work, record);
    },
  };
}
