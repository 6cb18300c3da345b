// The suites stage: Playwright against a VM over SSH, told where by a context file. A run
// runs them once; `bootc-harness suites RUN` runs them again against the VM a run kept.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { runInherit } from '../util/exec.js';
import { REPO_ROOT } from '../util/paths.js';
import { loadProfile } from '../profile/profile.js';
import { readTests, verdictOf, type Summary, type TestRecord, type TierStatus } from '../report/summary.js';
import { notTestedMessage, tierStatuses, withRunExpectations } from '../report/tiers.js';
import { CONTEXT_ENV, type RunContext } from './context.js';
import { findKeptRun } from './registry.js';

/** Where in a run's report directory Playwright's own report goes. */
export const PLAYWRIGHT_REPORT = 'tests';

export interface SuitesSelection {
  tiers: readonly number[];
  /** A Playwright --grep of its own, ANDed with the tiers' tags. */
  grep?: string;
  /** The caller's spec directories (--suites DIR): run after the tiers, in the same Playwright process. */
  userSuites?: readonly string[];
}

/** Pure: the --grep that selects the chosen tiers' tests (and, with a pattern, only those matching it). */
export function suitesGrep(sel: SuitesSelection): string {
  // No shipped tier (--tier user): a pattern nothing matches, not an empty one that matches all.
  if (!sel.tiers.length) return '(?!)';
  const tiers = `(${sel.tiers.map((t) => `@tier${t}\\b`).join('|')})`;
  return sel.grep ? `^(?=.*${tiers})(?=.*(${sel.grep}))` : tiers;
}

/**
 * Pure: which of the caller's tests run. One without a tier tag is the user tier and always
 * runs; one that carries a tier's tag (@tier2) runs with that tier, as a shipped test would.
 */
export function userSuitesGrep(sel: SuitesSelection): string {
  const tiers = sel.tiers.length ? `(${sel.tiers.map((t) => `@tier${t}\\b`).join('|')})` : '(?!)';
  return `^(?:(?!.*@tier\\d)|(?=.*${tiers}))${sel.grep ? `(?=.*(${sel.grep}))` : ''}`;
}

/** The environment playwright.config.ts builds its projects from (it cannot take arguments of its own). */
export const SUITES_ENV = { grep: 'BOOTC_HARNESS_GREP', userGrep: 'BOOTC_HARNESS_USER_GREP', userSuites: 'BOOTC_HARNESS_USER_SUITES' } as const;

// Resolved from this package, wherever it is installed: in a consumer's node_modules the
// Playwright a caller's specs import is the one beside us, not one under a checkout.
const require = createRequire(import.meta.url);

/**
 * NODE_OPTIONS for Playwright and its workers: tsx loads TypeScript that Playwright will not
 * transform. Playwright compiles only files outside node_modules (its esmLoader's
 * belongsToNodeModules); installed as a package, our suites and `bootc-harness/test` are in one.
 */
function tsxNodeOptions(): string {
  const loader = import.meta.resolve('tsx');
  return [process.env.NODE_OPTIONS, `--import=${loader}`].filter(Boolean).join(' ');
}

export async function runSuites(contextPath: string, runDir: string, sel: SuitesSelection, testMs: number, signal: AbortSignal, stdoutToStderr = false): Promise<number> {
  // Playwright's own CLI, not through npx: npx costs most of a second and draws its spinner on a terminal.
  // The selection is per project (the tiers, the caller's suites), so it goes through the
  // environment to the config: a --grep on the command line would override both projects'.
  const code = await runInherit([process.execPath, require.resolve('@playwright/test/cli'), 'test', '--config', join(REPO_ROOT, 'playwright.config.ts')], {
    stage: 'suites',
    cwd: REPO_ROOT,
    env: {
      [CONTEXT_ENV]: contextPath,
      BOOTC_HARNESS_RUN_DIR: runDir,
      BOOTC_HARNESS_TEST_MS: String(testMs),
      [SUITES_ENV.grep]: suitesGrep(sel),
      [SUITES_ENV.userGrep]: userSuitesGrep(sel),
      [SUITES_ENV.userSuites]: JSON.stringify(sel.userSuites ?? []),
      NODE_OPTIONS: tsxNodeOptions(),
    },
    signal,
    stdoutToStderr,
  });
  // Playwright's HTML report (every test, its steps and attachments) is the run page's tests/.
  const html = join(runDir, 'html');
  if (existsSync(html)) {
    rmSync(join(runDir, PLAYWRIGHT_REPORT), { recursive: true, force: true });
    renameSync(html, join(runDir, PLAYWRIGHT_REPORT));
  }
  return code;
}

export interface RerunOptions extends SuitesSelection {
  /** The tiers were named (--tier): a named tier in which nothing ran fails. */
  tiersExplicit: boolean;
  /** Judge the guest against another profile's expectations (the run's own by default). */
  profile?: string;
  signal: AbortSignal;
}

export interface RerunResult {
  runId: string;
  dir: string;
  tests: TestRecord[];
  tiers: Record<string, TierStatus>;
  exitCode: number;
  message?: string;
}

/** The suites again, against the VM a run kept: its own report in the run's report directory, suites-N. */
export async function rerunSuites(name: string, o: RerunOptions): Promise<RerunResult> {
  const entry = findKeptRun(name);
  const kept = entry.record.kept;
  const context = JSON.parse(readFileSync(kept.contextPath, 'utf8')) as RunContext;
  if (o.profile) {
    const run = JSON.parse(readFileSync(join(entry.record.runDir, 'summary.json'), 'utf8')) as Summary;
    context.profile = withRunExpectations(await loadProfile(o.profile), { luks: run.luks ?? 'none', rootLayout: run.rootLayout ?? 'plain' });
  }
  let n = 1;
  while (existsSync(join(entry.record.runDir, `suites-${n}`))) n++;
  const dir = join(entry.record.runDir, `suites-${n}`);
  mkdirSync(dir, { recursive: true });
  context.runDir = dir;
  const contextPath = join(entry.dir, `context-suites-${n}.json`);
  writeFileSync(contextPath, JSON.stringify(context, null, 2), { mode: 0o600 });
  const userSuites = context.userSuites ?? [];
  const code = await runSuites(contextPath, dir, { ...o, userSuites }, context.profile.budgets.testMs, o.signal);
  const tests = readTests(join(dir, 'tests.json'));
  const tiers = tierStatuses(tests, o.tiers, o.tiersExplicit, userSuites.length > 0);
  const untested = Object.entries(tiers).filter(([, st]) => st === 'not-tested').map(([tier]) => tier);
  const failed = verdictOf(tests, false) === 'failed';
  let exitCode = failed || untested.length ? 1 : 0;
  let message = untested.length ? untested.map((t) => notTestedMessage(t, tests)).join('\n') : undefined;
  if (!failed && tests.length === 0) {
    exitCode = 1;
    message = `no test ran${o.grep ? ` (--grep ${o.grep} matched none of tiers ${o.tiers.join(',')})` : ''}`;
  }
  if (code !== 0 && !failed && !untested.length && tests.length > 0) {
    exitCode = 3;
    message = `playwright exited ${code} without a failed test: see the output above`;
  }
  return { runId: entry.runId, dir, tests, tiers, exitCode, ...(message ? { message } : {}) };
}
