// `matrix`: every profile marked ci.matrix (the local fixtures, one per kernel
// compat tier) through test-install, and one report with a row per kernel tier.
// Upstream rows (ci.upstream: registry images) are only listed, for CI to gate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UsageError, describeError } from '../errors.js';
import { KERNEL_TIERS, listProfiles, loadProfile, type Profile } from '../profile/profile.js';
import { pointLatest, type Summary } from '../report/summary.js';
import { reportsDir } from '../util/paths.js';
import { testInstall, type TestInstallOptions } from './test-install.js';

export interface MatrixRow {
  profile: string;
  expectedTier: string;
  kernel: { release: string; tier: string };
  verdict: string;
  exitCode: number;
  passed: number;
  failed: number;
  skipped: number;
  report: string;
  error?: string;
}

/**
 * Where a matrix row runs in CI when its profile names no runner: GitHub's hosted Ubuntu 24.04
 * (KVM), named, never a moving `-latest` label (why 24.04: the workflow's header, docs/hosts.md).
 */
export const DEFAULT_RUNNER = 'ubuntu-24.04';

/** Pure: an upstream row (ci.upstream): a registry image gated in CI, never part of a local matrix run. */
export function isUpstream(p: Profile): boolean {
  return p.ci.upstream === true;
}

/** Profiles marked ci.matrix (local fixtures), in kernel-tier order (oldest kernels first), then by name. */
export async function matrixProfiles(): Promise<Profile[]> {
  return byKernelTier((await allProfiles()).filter((p) => p.ci.matrix));
}

/** Profiles marked ci.upstream (the bootc images bootc and composefs-rs test), in the same order. */
export async function upstreamProfiles(): Promise<Profile[]> {
  return byKernelTier((await allProfiles()).filter(isUpstream));
}

async function allProfiles(): Promise<Profile[]> {
  return Promise.all((await listProfiles()).map((n) => loadProfile(n)));
}

function byKernelTier(profiles: Profile[]): Profile[] {
  const rank = (p: Profile) => (p.kernel.tier ? KERNEL_TIERS.indexOf(p.kernel.tier) : KERNEL_TIERS.length);
  return profiles.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** Pure: the tiers a profile's image must pass before a release: boot and image always, the rest as it expects. */
export function requiredTiers(p: Profile): number[] {
  const e = p.expect;
  return [0, 1, ...(e.zfs || e.tailscaled || e.services.length || e.enabledUnits.length ? [2] : []), ...(e.luks?.tpm2 ? [3] : []), ...(e.composefs !== null ? [4] : [])];
}

/**
 * Pure: how the installer lays the root out: bootc's backend (`composefs` when the profile
 * forces it, else `ostree`: bootc's default for an image without a UKI, whose root may still be
 * composefs through ostree's prepare-root.conf, which tier 4 judges), or for the direct
 * installer `composefs` (its layout of a composefs image) or `plain`.
 */
export function rootBackend(p: Profile): 'composefs' | 'ostree' | 'plain' {
  if (p.installer === 'bootc') return p.bootcBackend === 'composefs' ? 'composefs' : 'ostree';
  return p.expect.composefs !== null ? 'composefs' : 'plain';
}

/** One CI row: GitHub's strategy.matrix.include entry; local and upstream rows have the same keys. */
export interface CiRow {
  profile: string;
  /** The image (upstream) or the fixture's recipe directory (local). */
  source: string;
  installer: string;
  backend: string;
  tier: string;
  release: string;
  runner: string;
  /** The tiers the row's gate requires, e.g. "0,1,2,4". */
  require: string;
}

/** Pure: the CI matrix, one row per profile. */
export function ciMatrix(profiles: readonly Profile[]): CiRow[] {
  return profiles.map((p) => ({
    profile: p.name,
    source: 'image' in p.source ? p.source.image : `fixtures/${p.source.fixture}`,
    installer: p.installer,
    backend: rootBackend(p),
    tier: p.kernel.tier ?? '',
    release: p.kernel.release ?? '',
    runner: p.ci.runner ?? DEFAULT_RUNNER,
    require: requiredTiers(p).join(','),
  }));
}

/**
 * Pure: how many rows run at once unless --jobs says: one VM per two host cores, as the test
 * lanes (scripts/test-all.ts). Measured on 2 cores under TCG (just bench-jobs): two 1-vCPU VMs
 * at once took 0.93x the time of one 2-vCPU VM at a time, inside the spread of one row's own
 * boot between identical runs (34-42 s), while each guest's boot took 1.6-1.7x as long.
 */
export function defaultMatrixJobs(hostCores: number): number {
  return Math.max(1, Math.floor(hostCores / 2));
}

/** Pure: the rows asked for (--rows), in matrix order; a name that is no matrix row is bad input. */
export function chooseRows(profiles: readonly Profile[], names: readonly string[] | undefined): Profile[] {
  if (!names) return [...profiles];
  const unknown = names.filter((n) => !profiles.some((p) => p.name === n));
  if (unknown.length) throw new UsageError(`--rows: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a matrix row (rows: ${profiles.map((p) => p.name).join(', ')})`);
  return profiles.filter((p) => names.includes(p.name));
}

/** Pure: one markdown table, a row per kernel tier. */
export function matrixTable(rows: readonly MatrixRow[]): string {
  const head = '| profile | kernel | compat tier | verdict | passed | failed | skipped | report |\n|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) => `| ${r.profile} | ${r.kernel.release || '-'} | ${r.kernel.tier || r.expectedTier} | ${r.verdict} | ${r.passed} | ${r.failed} | ${r.skipped} | ${r.report} |`);
  return [head, ...body].join('\n') + '\n';
}

export async function runMatrix(opts: Omit<TestInstallOptions, 'source' | 'profile'> & { jobs?: number; rows?: readonly string[] }): Promise<{ exitCode: number; dir: string; rows: MatrixRow[] }> {
  const profiles = chooseRows(await matrixProfiles(), opts.rows);
  const rows: MatrixRow[] = new Array(profiles.length);
  // Rows run `jobs` at a time, each its own run (own VM, port, work dir); the table keeps kernel-tier
  // order. The VMs running at once share the host's cores (under TCG, fewer vCPUs each: vm/vcpus.ts).
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultMatrixJobs(availableParallelism()), profiles.length));
  let next = 0;
  const worker = async () => {
    while (next < profiles.length && !opts.signal.aborted) {
      const i = next++;
      rows[i] = await runRow(profiles[i]!, { ...opts, vmsAtOnce: jobs });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const done = rows.filter((r): r is MatrixRow => r !== undefined);
  const id = `matrix-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`;
  const dir = join(opts.reportDir ?? reportsDir(), id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'matrix.json'), JSON.stringify({ rows: done }, null, 2) + '\n');
  writeFileSync(join(dir, 'matrix.md'), matrixTable(done));
  pointLatest(opts.reportDir ?? reportsDir(), id, 'latest-matrix');
  // The worst row decides: infrastructure (3) over failure (1) over pass (0).
  const exitCode = done.length === 0 ? 3 : done.some((r) => r.exitCode === 3) ? 3 : done.some((r) => r.exitCode !== 0) ? 1 : 0;
  return { exitCode, dir, rows: done };
}

async function runRow(profile: Profile, opts: Omit<TestInstallOptions, 'source' | 'profile'>): Promise<MatrixRow> {
  opts.log(`matrix: ${profile.name} (${profile.kernel.tier} tier)`);
  const log = (line: string) => opts.log(`[${profile.name}] ${line}`);
  let summary: Summary | undefined;
  let runDir = '';
  let exitCode: number;
  let error: string | undefined;
  try {
    const r = await testInstall({ ...opts, log, profile: profile.name });
    summary = r.summary;
    runDir = r.runDir;
    exitCode = r.exitCode;
    if (r.failure) error = describeError(r.failure).split('\n')[0];
  } catch (e) {
    // Bad input, before the row's run existed: no report to point at.
    exitCode = 3;
    error = describeError(e).split('\n')[0];
  }
  const count = (st: string) => summary?.tests.filter((t) => t.status === st).length ?? 0;
  return {
    profile: profile.name,
    expectedTier: profile.kernel.tier ?? '',
    kernel: summary?.kernel ?? { release: '', tier: '' },
    verdict: summary?.verdict ?? 'error',
    exitCode,
    passed: count('passed'),
    failed: count('failed') + count('timedOut'),
    skipped: count('skipped'),
    report: runDir.split('/').pop() ?? '',
    ...(error ? { error } : {}),
  };
}
