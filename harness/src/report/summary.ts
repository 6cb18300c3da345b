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

/** What a run is before any stage ran: its source, profile and clock. */
export interface RunStart {
  source: string;
  profile: string;
  profileReason: string;
  installer: string;
  stages: StageRecord[];
  startedAt: string;
}

/**
 * What each stage found, as its result carries it; a stage that never ran leaves its part out.
 * The summary is built from these once, at the end (buildSummary), so which fields exist
 * when is read here, not by following the run.
 */
export interface RunParts {
  /** The source, when a path turned out to be something other than a rootfs. */
  source?: { detected: string };
  /** image stage: the image under test. */
  image?: { ref: string; digest?: string; id?: string };
  /** The install plan (run/plan.ts). */
  plan?: { installer: string; rootLayout: 'plain' | 'composefs'; luks: 'tpm2' | 'none'; placement: 'host' | 'vm' };
  /** disk stage: the cache entry booted from and the kernel installed on it. */
  disk?: { key: string; kernel: { release: string; tier: string } };
  /** vm stage: the accelerator and the vCPUs chosen. */
  vm?: { accel: string; accelReason: string; vcpus: { count: number; why: string } };
  /** Boots retried after an infrastructure failure. */
  retries?: { stage: string; reason: string }[];
  /** session stage: the kernel the guest runs (uname -r). */
  session?: { kernel: { release: string; tier: string } };
  /** The journal's boot profile. */
  boot?: BootProfile;
  /** --keep: where the VM still runs. */
  kept?: { runId: string; ssh: string };
}

/** How the run ended: the tests and the verdict judged from them. */
export interface RunEnd {
  tests: TestRecord[];
  tiers: Record<string, TierStatus>;
  verdict: Verdict;
  exitCode: number;
  error?: { stage: string; message: string; consoleTail?: string };
  finishedAt: string;
}

/** Pure: the run's summary from its start, what its stages found and how it ended (keys in the order summary.json has always had). */
export function buildSummary(start: RunStart, parts: RunParts, end: RunEnd): Summary {
  const p = parts;
  return {
    verdict: end.verdict,
    exitCode: end.exitCode,
    source: start.source,
    profile: start.profile,
    profileReason: start.profileReason,
    installer: p.plan?.installer ?? start.installer,
    stages: start.stages,
    startedAt: start.startedAt,
    image: p.image ?? { ref: '' },
    accel: p.vm?.accel ?? '',
    accelReason: p.vm?.accelReason ?? '',
    kernel: p.session?.kernel ?? p.disk?.kernel ?? { release: '', tier: '' },
    tests: end.tests,
    finishedAt: end.finishedAt,
    ...(p.source ? { sourceDetected: p.source.detected } : {}),
    ...(p.plan ? { rootLayout: p.plan.rootLayout, luks: p.plan.luks, placement: p.plan.placement } : {}),
    ...(p.disk ? { diskKey: p.disk.key } : {}),
    ...(p.vm ? { vcpus: p.vm.vcpus } : {}),
    ...(p.retries?.length ? { retries: p.retries } : {}),
    ...(p.boot ? { boot: p.boot } : {}),
    ...(p.kept ? { kept: p.kept } : {}),
    tiers: end.tiers,
    ...(end.error ? { error: end.error } : {}),
  };
}

/** A run's summary before anything ran: an error until the run says otherwise. */
export function newSummary(o: RunStart): Summary {
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
