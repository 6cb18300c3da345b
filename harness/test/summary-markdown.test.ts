// The job summary and the step outputs the GitHub Action shows and sets, made by
// `bootc-harness summary` from a real run's summary.json: e2e-package's run of the example
// repository (tier 0 passed; the caller's suite: one check passed, one failed), kept in
// harness/test/data/summary-user.json.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cmdSummary } from '../src/cli/summary.js';
import { githubOutputs, summaryMarkdown } from '../src/report/markdown.js';
import type { Summary } from '../src/report/summary.js';

const real = readFileSync(join(import.meta.dirname, 'data', 'summary-user.json'), 'utf8');
const summary = () => JSON.parse(real) as Summary;
const FAILING = 'caller: the image ships /etc/bootc-harness-caller-marker';

t.test('the job summary: the verdict, a row per tier, the failed checks by name', async (t) => {
  const s = summary();
  t.equal(s.tiers?.user, 'failed', 'the data: a run whose user tier failed');
  const md = summaryMarkdown(s, '/r/run');
  t.match(md, /^### ❌ bootc-harness: FAILED — `.+` \(profile custom-image\)$/m);
  const rows = [...md.matchAll(/^\| (tier\d|user|pre) \| (\S+) \| (\d+) \| (\d+) \| (\d+) \|$/gm)].map((m) => m.slice(1, 6));
  t.same(rows.map((r) => r[0]), ['tier0', 'user', 'pre'], 'tiers in reading order: numbered, the caller\'s, the pre-boot checks');
  const count = (tier: string, st: string) => s.tests.filter((x) => x.tier === tier && x.status === st).length;
  for (const [tier, status, passed, failed, skipped] of rows) {
    t.equal(status, s.tiers?.[tier!] ?? status, `${tier}: the summary's status`);
    t.same([Number(passed), Number(failed), Number(skipped)], [count(tier!, 'passed'), count(tier!, 'failed'), count(tier!, 'skipped')], `${tier}: counts from the tests`);
  }
  t.same(rows.find((r) => r[0] === 'user'), ['user', 'failed', '1', '1', '0']);
  const failedRows = md.slice(md.indexOf('**Failed checks**'));
  const why = s.tests.find((x) => x.id === FAILING)!.error!.split('\n')[0]!.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  t.ok(failedRows.includes(`| user | ${FAILING} | ${why.slice(0, 157)}`), 'the failing caller check with the first line of its error');
  t.match(md, /^report: `\/r\/run`$/m);
  t.match(md, new RegExp(`exit code ${s.exitCode}`));
});

t.test('a cell stays one line of a table whatever the error says', async (t) => {
  const s = summary();
  s.tests = [{ id: 'a|b', tier: 'user', status: 'failed', error: 'first | line\nsecond line' }];
  const md = summaryMarkdown(s, '/r');
  t.match(md, /^\| user \| a\\\|b \| first \\\| line \|$/m);
  t.notMatch(md, /second line/);
});

t.test('a passing run has no failed-checks table', async (t) => {
  const s = summary();
  s.tests = s.tests.filter((x) => x.status !== 'failed');
  s.verdict = 'passed';
  s.tiers = { tier0: 'passed', user: 'passed' };
  const md = summaryMarkdown(s, '/r');
  t.match(md, /^### ✅ bootc-harness: PASSED/m);
  t.notMatch(md, /Failed checks/);
});

t.test('the step outputs: verdict, exit code, report directory, one line each', async (t) => {
  const s = summary();
  t.equal(githubOutputs(s, '/r/run'), `verdict=failed\nexit-code=${s.exitCode}\nreport-dir=/r/run\n`);
  t.equal(githubOutputs(s, '/r/a\nb'), `verdict=failed\nexit-code=${s.exitCode}\nreport-dir=/r/a b\n`, 'a newline cannot forge another output');
});

t.test('bootc-harness summary RUN appends to the files GitHub gives, as other steps do', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'summary-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = join(dir, 'run');
  writeFileSync(join(dir, 'step-summary'), 'before\n');
  writeFileSync(join(dir, 'output'), 'other=1\n');
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run);
  writeFileSync(join(run, 'summary.json'), real);
  t.equal(cmdSummary([run, '--markdown', join(dir, 'step-summary'), '--github-output', join(dir, 'output')]), 0);
  t.match(readFileSync(join(dir, 'step-summary'), 'utf8'), /^before\n### ❌ bootc-harness: FAILED/);
  t.equal(readFileSync(join(dir, 'output'), 'utf8'), `other=1\nverdict=failed\nexit-code=${summary().exitCode}\nreport-dir=${run}\n`);
  t.throws(() => cmdSummary([join(dir, 'nope')]), { name: 'UsageError', message: /^summary: no report at .*nope \(summary\.json\)$/ });
});
