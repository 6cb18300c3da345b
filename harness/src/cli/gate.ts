// gate: the release question, of a run it makes or of a finished run's report.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { gateScreen } from '../report/gate.js';
import type { Summary } from '../report/summary.js';
import { tierStatuses } from '../report/tiers.js';
import { testInstall } from '../run/test-install.js';
import { reportsDir } from '../util/paths.js';
import { INSTALL_FLAGS, installOptions, parse, parseTiers } from './args.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/**
 * The release question: did every tier we require run and pass? A required tier with no
 * test that ran (all skipped, or none selected) fails the gate, naming why.
 */
export async function cmdGate(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { ...INSTALL_FLAGS, require: { type: 'string' }, run: { type: 'string' } });
  if (values.require === undefined) throw new UsageError('gate needs --require TIERS, e.g. --require 0,1,3');
  if (values.json) throw new UsageError('gate answers with one screen: --json is for test-install');
  if (values.run !== undefined) return gateOfRun(values.run as string, parseTiers(values.require as string), positionals);
  const opts = installOptions('gate', values, positionals, values.require as string, signal);
  const { summary, runDir, failure } = await testInstall(opts).finally(() => opts.terminal.close());
  process.stdout.write(gateScreen(summary, opts.tiers, runDir));
  if (signal.aborted) return EXIT.interrupted;
  const passed = opts.tiers.every((t) => summary.tiers?.[`tier${t}`] === 'passed');
  if (passed) return EXIT.passed;
  return failure ? exitCodeFor(failure) : EXIT.failed;
}

/** gate --run: a finished run's report judged against the required tiers, every one of them named. */
function gateOfRun(run: string, required: number[], positionals: string[]): number {
  if (positionals.length) throw new UsageError('gate --run RUN takes no SOURCE: the run says what it tested');
  const runDir = /[/.]/.test(run) ? resolve(run) : join(reportsDir(), run);
  let summary: Summary;
  try {
    summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
  } catch {
    throw new UsageError(`gate --run: no report at ${runDir} (summary.json)`);
  }
  summary.tiers = tierStatuses(summary.tests, required, true);
  process.stdout.write(gateScreen(summary, required, runDir));
  return required.every((t) => summary.tiers?.[`tier${t}`] === 'passed') && summary.verdict !== 'error' ? EXIT.passed : EXIT.failed;
}

