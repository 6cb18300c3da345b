// The caller's checks (--suites) as the user tier: selected with the tiers they carry,
// judged like a tier, required by the gate by name.
import t from 'tap';
import { parseTiers, parseTierSpec } from '../src/cli/args.js';
import { gateScreen } from '../src/report/gate.js';
import { newSummary, type TestRecord } from '../src/report/summary.js';
import { tierStatuses } from '../src/report/tiers.js';
import { judgeRun } from '../src/run/judge.js';
import { suitesGrep, userSuitesGrep } from '../src/run/suites.js';

const rec = (id: string, tier: string, status: TestRecord['status']): TestRecord => ({ id, tier, status });

t.test('tiers as written: numbers and "user"', async (t) => {
  t.same(parseTierSpec('0,user'), { tiers: [0], user: true });
  t.same(parseTierSpec('user'), { tiers: [], user: true });
  t.same(parseTierSpec('2,tier1'), { tiers: [1, 2], user: false });
  t.throws(() => parseTierSpec('0,usr'), { message: /unknown tier "usr" \(tiers are 0, 1, 2, 3, 4\)/ });
  t.throws(() => parseTiers('0,user'), { name: 'UsageError', message: /--suites/ }, 'where only shipped tiers mean something (matrix), user is refused');
});

t.test("which caller tests run: untagged always, tagged with their tier", async (t) => {
  const user = new RegExp(userSuitesGrep({ tiers: [0, 1] }));
  t.match('checks.spec.ts my check', user, 'no tier tag: the user tier, runs');
  t.match('checks.spec.ts my check @tier1', user, 'tagged with a selected tier: runs');
  t.notMatch('checks.spec.ts my check @tier3', user, 'tagged with a tier not selected: does not');
  const narrowed = new RegExp(userSuitesGrep({ tiers: [0], grep: 'pool' }));
  t.match('zfs pool imports', narrowed);
  t.notMatch('sanoid timer', narrowed, '--grep narrows the caller tests too');
  const none = new RegExp(suitesGrep({ tiers: [] }));
  t.notMatch('boot.ssh @tier0', none, '--tier user alone: no shipped test runs');
  t.notMatch('', none);
  const onlyUser = new RegExp(userSuitesGrep({ tiers: [] }));
  t.match('my check', onlyUser);
  t.notMatch('my check @tier0', onlyUser);
});

t.test('the user tier: failed by a failing caller check, not-tested when no caller test ran', async (t) => {
  const tests = [rec('boot.ssh', 'tier0', 'passed'), rec('caller ok', 'user', 'passed'), rec('caller bad', 'user', 'failed')];
  t.same(tierStatuses(tests, [0], false, true), { tier0: 'passed', user: 'failed' });
  t.same(tierStatuses(tests.slice(0, 2), [0], false, true), { tier0: 'passed', user: 'passed' });
  t.same(tierStatuses(tests.slice(0, 1), [0], false, true), { tier0: 'passed', user: 'not-tested' }, 'a suite directory with nothing in it is a mistake, even without --tier');
  t.same(tierStatuses(tests, [0], false), { tier0: 'passed' }, 'no --suites: no user tier');
  const j = judgeRun(tests, [0], true, undefined, true);
  t.equal(j.verdict, 'failed');
  t.equal(j.exitCode, 1, 'a failing caller check fails the run');
  const empty = judgeRun(tests.slice(0, 1), [0], true, undefined, true);
  t.equal(empty.exitCode, 1);
  t.match(empty.error?.message ?? '', /user was asked for with --suites but no test of it ran/);
});

t.test('the gate screen names the user tier and its failed check', async (t) => {
  const s = newSummary({ source: 'output/snow', profile: 'snow', profileReason: 'x', installer: 'direct', stages: [], startedAt: '' });
  s.tests = [rec('boot.ssh', 'tier0', 'passed'), { ...rec('caller bad', 'user', 'failed'), error: 'expected present\nmore' }];
  s.tiers = tierStatuses(s.tests, [0], true, true);
  const screen = gateScreen(s, [0, 'user'], '/r');
  t.match(screen, /^gate: FAILED: required tiers 0, user of output\/snow/m);
  t.match(screen, /^ {2}user +failed +0 +1 +0$/m);
  t.match(screen, /^ {12}caller bad: expected present$/m);
  t.match(gateScreen(s, [0], '/r'), /^gate: PASSED/m, 'not required: the failing caller check does not fail the gate');
});
