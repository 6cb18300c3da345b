// reports/<run>/summary.json: the one-glance verdict, as the design specifies.
import type { BootProfile } from './boot-profile.js';
import { existsSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A tier's verdict: passed, failed, not-applicable (nothing of it expected), not-tested (asked for by name, nothing ran). */
export type TierStatus = 'passed' | 'failed' | 'not-applicable' | 'not-tested';

export type Verdict = 'passed' | 'failed' | 'error';

export interface StageRecord {
  name: string;
  ms: number;
  cached: boolean;
  error?: string;
}

export interface TestRecord {
  id: string;
  tier: string;
  status: 'passed' | 'failed' | 'skipped' | 'timedOut' | 'interrupted';
  error?: string;
  annotations?: { type: string; description?: string }[];
}

export interface Summary {
  verdict: Verdict;
  exitCode: number;
  source: string;
  /** What a SOURCE path was found to be by its content, when it was not a rootfs. */
  sourceDetected?: string;
  profile: string;
  /** Why that profile: --profile, the image's label, its IMAGE_ID, the source's name, or none (generic). */
  profileReason?: string;
  image: { ref: string; digest?: string; id?: string };
  installer: string;
  /** How the installer laid out the root: the image's tree, or a composefs repository. */
  rootLayout?: 'plain' | 'composefs';
  /** tpm2: the root is LUKS2 with its key sealed to the VM's TPM. */
  luks?: 'tpm2' | 'none';
  /** Where the install's TPM-binding step ran. */
  placement?: 'host' | 'vm';
  /** The installed-disk cache entry the VM booted from (the disk stage says whether it was a hit). */
  diskKey?: string;
  accel: string;
  accelReason: string;
  /** The test VM's vCPUs and why that many (vm/vcpus.ts). */
  vcpus?: { count: number; why: string };
  kernel: { release: string; tier: string };
  stages: StageRecord[];
  /** Boots retried after an infrastructure failure (a stalled guest, a QEMU crash): at most one. */
  retries?: { stage: string; reason: string }[];
  tests: TestRecord[];
  /** Each selected tier: passed, failed, not-applicable (nothing of it expected), not-tested (asked for by name, nothing ran). */
  tiers?: Record<string, TierStatus>;
  error?: { stage: string; message: string; consoleTail?: string };
  /** Where the boot's time went (firmware, kernel to sshd, sshd to the harness's first round trip). */
  boot?: BootProfile;
  /** --keep: the VM is still up; `bootc-harness ssh|suites|stop RUN` reach it, as does this plain ssh command. */
  kept?: { runId: string; ssh: string };
  startedAt: string;
  finishedAt: string;
}

/** A run's summary before anything ran: an error until the run says otherwise. */
export function newSummary(o: { source: string; profile: string; profileReason: string; installer: string; stages: StageRecord[]; startedAt: string }): Summary {
  return { verdict: 'error', exitCode: 3, ...o, image: { ref: '' }, accel: '', accelReason: '', kernel: { release: '', tier: '' }, tests: [], finishedAt: o.startedAt };
}

/** Pure: the verdict follows from the tests and whether the harness itself failed. */
export function verdictOf(tests: readonly TestRecord[], infraFailed: boolean): Verdict {
  if (infraFailed) return 'error';
  return tests.some((t) => t.status === 'failed' || t.status === 'timedOut' || t.status === 'interrupted') ? 'failed' : 'passed';
}

export function readTests(path: string): TestRecord[] {
  if (!existsSync(path)) return [];
  return JSON.parse(readFileSync(path, 'utf8')) as TestRecord[];
}

export function writeSummary(runDir: string, summary: Summary): void {
  writeFileSync(join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

/** reports/latest -> <run>, replaced atomically so a reader never sees it missing. */
export function pointLatest(reportsDir: string, runId: string, name = 'latest'): void {
  const tmp = join(reportsDir, `.${name}-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(runId, tmp);
  renameSync(tmp, join(reportsDir, name));
}
