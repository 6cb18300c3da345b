// gate: the release question, of a run it makes or of a finished run's report.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { gateScreen } from '../report/gate.js';
import type { Summary } from '../report/summary.js';
import { tierStatuses, USER_TIER } from '../report/tiers.js';
import { readCallerConfig } from '../run/caller-config.js';
import { testInstall } from '../run/test-install.js';
import { reportsDir } from '../util/paths.js';
import { INSTALL_FLAGS, installOptions, parse, parseTierSpec } from './args.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/**
 * The release question: did every tier we require run and pass? A required tier with no
 * test that ran (all skipped, or none selected) fails the gate, naming why.
 */
export async function cmdGate(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { ...INSTALL_FLAGS, require: { type: 'string' }, run: { type: 'string' } });
  // The caller's bootc-harness.toml may say what a release requires.
  const requireText = (values.require as string | undefined) ?? readCallerConfig()?.require;
  if (requireText === undefined) throw new UsageError('gate needs --require TIERS, e.g. --require 0,1,3 (user: the caller\'s --suites)');
  if (values.json) throw new UsageError('gate answers with one screen: --json is for test-install');
  const req = parseTierSpec(requireText);
  if (values.run !== undefined) return gateOfRun(values.run as string, req, positionals);
  const opts = installOptions('gate', values, positionals, requireText, signal);
  const { summary, runDir, failure } = await testInstall(opts).finally(() => opts.terminal.close());
  const required = requiredKeys(req);
  process.stdout.write(gateScreen(summary, required, runDir));
  if (signal.aborted) return EXIT.interrupted;
  const passed = required.every((t) => summary.tiers?.[typeof t === 'number' ? `tier${t}` : t] === 'passed');
  if (passed) return EXIT.passed;
  return failure ? exitCodeFor(failure) : EXIT.failed;
}

/** The required tiers as the gate screen lists them: the numbered ones, then "user". */
const requiredKeys = (req: { tiers: number[]; user: boolean }): (number | string)[] => [...req.tiers, ...(req.user ? [USER_TIER] : [])];

/** gate --run: a finished run's report judged against the required tiers, every one of them named. */
function gateOfRun(run: string, req: { tiers: number[]; user: boolean }, positionals: string[]): number {
  if (positionals.length) throw new UsageError('gate --run RUN takes no SOURCE: the run says what it tested');
  const runDir = /[/.]/.test(run) ? resolve(run) : join(reportsDir(), run);
  let summary: Summary;
  try {
    summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
  } catch {
    throw new UsageError(`gate --run: no report at ${runDir} (summary.json)`);
  }
  summary.tiers = tierStatuses(summary.tests, req.tiers, true, req.user);
  const required = requiredKeys(req);
  process.stdout.write(gateScreen(summary, required, runDir));
  return required.every((t) => summary.tiers?.[typeof t === 'number' ? `tier${t}` : t] === 'passed') && summary.verdict !== 'error' ? EXIT.passed : EXIT.failed;
}

