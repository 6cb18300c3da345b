// The run's summary: its verdict, summary.json and tests.json, and the reports/latest link.
import t from 'tap';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pointLatest, readTests, verdictOf, writeSummary, type Summary, type TestRecord } from '../src/report/summary.js';
import { freshDirs } from './helpers/fresh-dir.js';

const freshDir = freshDirs(t, 'bootc-harness-summary-test-');

const rec = (status: TestRecord['status'], id = `t.${status}`): TestRecord => ({ id, tier: 'tier0', status });

t.test('verdictOf', async (t) => {
  t.equal(verdictOf([rec('passed'), rec('passed', 'b')], false), 'passed');
  t.equal(verdictOf([rec('skipped'), rec('skipped', 'b')], false), 'passed', 'skipped-only counts as passed');
  t.equal(verdictOf([rec('passed'), rec('skipped')], false), 'passed');
  t.equal(verdictOf([rec('passed'), rec('failed')], false), 'failed');
  t.equal(verdictOf([rec('skipped'), rec('timedOut')], false), 'failed', 'a timed-out test is a failure');
  t.equal(verdictOf([rec('passed'), rec('interrupted')], false), 'failed', 'an interrupted test is a failure');
  t.equal(verdictOf([rec('passed')], true), 'error', 'an infrastructure failure is an error even if tests passed');
  t.equal(verdictOf([rec('failed')], true), 'error', 'and wins over failed tests');
});

t.test('writeSummary and readTests round trip', async (t) => {
  const dir = freshDir();
  const tests: TestRecord[] = [
    { id: 'boot.multi-user', tier: 'tier0', status: 'passed' },
    { id: 'image.suid', tier: 'tier1', status: 'failed', error: '/usr/bin/sudo lost its SUID bit' },
    { id: 'zfs.module', tier: 'tier2', status: 'skipped', annotations: [{ type: 'skip', description: 'profile expects no ZFS' }] },
  ];
  const summary: Summary = {
    verdict: 'failed',
    exitCode: 1,
    source: 'fixture:trixie',
    profile: 'trixie',
    image: { ref: 'localhost/bootc-harness/trixie:abc', digest: 'sha256:' + '0'.repeat(64) },
    installer: 'direct',
    accel: 'tcg',
    accelReason: 'no /dev/kvm',
    kernel: { release: '6.12.48+deb13-amd64', tier: 'pre-6.15' },
    stages: [{ name: 'image', ms: 1234, cached: true }],
    tests,
    error: { stage: 'suites', message: 'one failed', consoleTail: 'last\nlines' },
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:05:00.000Z',
  };
  writeSummary(dir, summary);
  const text = readFileSync(join(dir, 'summary.json'), 'utf8');
  t.same(JSON.parse(text), summary, 'summary.json holds the summary');
  t.ok(text.endsWith('}\n'), 'ends with a newline');
  t.match(text, /^\{\n {2}"verdict": "failed",/, 'pretty-printed, verdict first');

  const testsFile = join(dir, 'tests.json');
  writeFileSync(testsFile, JSON.stringify(tests));
  t.same(readTests(testsFile), tests, 'tests read back');
  t.same(readTests(join(dir, 'missing.json')), [], 'no tests file, no tests');
});

t.test('pointLatest creates and then atomically replaces reports/latest', async (t) => {
  const reports = freshDir();
  mkdirSync(join(reports, 'run-1'));
  mkdirSync(join(reports, 'run-2'));
  writeFileSync(join(reports, 'run-2', 'summary.json'), '{"verdict":"passed"}');

  pointLatest(reports, 'run-1');
  const latest = join(reports, 'latest');
  t.ok(lstatSync(latest).isSymbolicLink(), 'latest is a symlink');
  t.equal(readlinkSync(latest), 'run-1', 'relative target, so the reports dir can move');

  const before = lstatSync(latest).ino;
  pointLatest(reports, 'run-2');
  t.equal(readlinkSync(latest), 'run-2', 'replaced');
  t.not(lstatSync(latest).ino, before, 'a new link renamed over the old one');
  t.equal(readFileSync(join(latest, 'summary.json'), 'utf8'), '{"verdict":"passed"}', 'resolves to the run');
  t.same(readdirSync(reports).sort(), ['latest', 'run-1', 'run-2'], 'no temporary link left behind');

  // A stale temporary link from a crashed run with our pid does not get in the way.
  symlinkSync('run-1', join(reports, `.latest-${process.pid}`));
  pointLatest(reports, 'run-1');
  t.equal(readlinkSync(latest), 'run-1');
  t.same(readdirSync(reports).sort(), ['latest', 'run-1', 'run-2']);
});
