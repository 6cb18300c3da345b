// A verdict per tier. A tier passes only when a test of it ran and passed: all-skipped
// is never "passed". Asked for by name (--tier), a tier in which nothing ran fails the
// run, naming why each of its tests skipped; otherwise it is "not applicable".
import type { Profile } from '../profile/profile.js';
import type { TestRecord, TierStatus } from './summary.js';

/** The caller's checks (--suites) without a tier tag of their own. */
export const USER_TIER = 'user';

/**
 * Pure: each selected tier's status from its tests. `explicit`: the tiers were asked for by
 * name. `user`: the caller's suites ran (--suites): their tier is always asked for by name,
 * since a suite directory with no test in it is a mistake, not "not applicable".
 */
export function tierStatuses(tests: readonly TestRecord[], tiers: readonly number[], explicit: boolean, user = false): Record<string, TierStatus> {
  const out: Record<string, TierStatus> = {};
  for (const tier of [...tiers.map((n) => `tier${n}`), ...(user ? [USER_TIER] : [])]) {
    const isUser = tier === USER_TIER;
    const mine = tests.filter((t) => t.tier === tier);
    if (mine.some((t) => t.status === 'failed' || t.status === 'timedOut' || t.status === 'interrupted')) out[tier] = 'failed';
    else if (mine.some((t) => t.status === 'passed')) out[tier] = 'passed';
    else out[tier] = explicit || isUser ? 'not-tested' : 'not-applicable';
  }
  return out;
}

/** Pure: why a tier asked for by name was not tested, one line per skipped test. */
export function notTestedMessage(tier: string, tests: readonly TestRecord[]): string {
  const mine = tests.filter((t) => t.tier === tier);
  const why = mine.map((t) => `${t.id}: skipped (${t.annotations?.find((a) => a.type === 'skip')?.description ?? 'no reason given'})`);
  return `${tier} was asked for with ${tier === USER_TIER ? '--suites' : '--tier'} but no test of it ran${why.length ? `:\n  ${why.join('\n  ')}` : ' (no test of it was selected)'}`;
}

/**
 * Pure: the profile's expectations plus what the run itself did. A root the run encrypted
 * with a TPM2-sealed key must be checked as such (tier 3), and a root the installer laid out
 * as composefs as composefs (tier 4), whatever the profile says.
 */
export function withRunExpectations(profile: Profile, run: { luks: 'tpm2' | 'none'; rootLayout: 'plain' | 'composefs' }): Profile {
  const expect = { ...profile.expect };
  if (run.luks === 'tpm2' && !expect.luks?.tpm2) expect.luks = { tpm2: true };
  // The direct installer writes the object store without fs-verity (see README); bootc's
  // composefs backend is covered by the profile's own expectation.
  if (run.rootLayout === 'composefs' && expect.composefs === null) expect.composefs = { verity: 'none' };
  return { ...profile, expect };
}
