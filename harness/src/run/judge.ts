// Pure: the run's verdict and exit code from its tests and how it ended.
import { AssertionFailure, UsageError, describeError } from '../errors.js';
import { verdictOf, type Summary, type TestRecord } from '../report/summary.js';
import { notTestedMessage, tierStatuses } from '../report/tiers.js';

export interface Judgement {
  tiers: NonNullable<Summary['tiers']>;
  verdict: Summary['verdict'];
  exitCode: number;
  /** The run's failure: the one it ended with, or tiers asked for by name that no test backs. */
  failure?: Error;
  error?: Summary['error'];
}

export function judgeRun(tests: readonly TestRecord[], tiers: readonly number[], explicit: boolean, ended?: Error, user = false): Judgement {
  const statuses = tierStatuses(tests, tiers, explicit, user);
  const untested = Object.entries(statuses).filter(([, st]) => st === 'not-tested').map(([tier]) => tier);
  let failure = ended;
  // Asked for by name and not tested: a claim nothing backs. Fails the run, unless it already failed.
  if (untested.length && !failure) failure = new AssertionFailure('suites', untested.map((tier) => notTestedMessage(tier, tests)).join('\n'));
  const infraFailed = failure !== undefined && !(failure instanceof AssertionFailure);
  let verdict = verdictOf(tests, infraFailed);
  if (failure instanceof AssertionFailure && verdict === 'passed') verdict = 'failed';
  const exitCode = failure instanceof UsageError ? 2 : infraFailed ? 3 : verdict === 'passed' ? 0 : 1;
  const f = failure as (Error & { stage?: string; consoleTail?: string }) | undefined;
  return {
    tiers: statuses,
    verdict,
    exitCode,
    ...(failure ? { failure } : {}),
    ...(f ? { error: { stage: f.stage ?? 'input', message: describeError(f), ...(f.consoleTail ? { consoleTail: f.consoleTail } : {}) } } : {}),
  };
}
