// Broken fixtures, each failing for its own reason, fast: from the console or the
// first check that can see it, never by waiting out the SSH budget.
//
// Boots: one per case, none shared, and none at all for a lost SUID bit: the image's own
// files show it, so the run stops before install (asserted: no disk stage, no console log).
// Each case is another image (a panic, an emergency shell, no sshd, a failing unit, a lost
// SUID bit, a gained one); an image broken in two ways at once would let one reason hide the
// other. The others stay booted on purpose: each proves a runtime path that no file of the
// image decides (the console watch naming a panic, an emergency shell, a login prompt with
// no sshd (its profile leaves ssh.service out of enabledUnits so the pre checks do not
// answer first); a unit failing at run time; a bit gained at boot).
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import { loadProfile } from '../src/profile/profile.js';
import { cli, VM_TESTS } from './helpers/cli.js';
import { visibleParts } from './helpers/chromium.js';
import type { Summary } from '../src/report/summary.js';
import type { RunEvent } from '../src/report/events.js';

interface Case {
  profile: string;
  exit: number;
  tier: string;
  test: string;
  reason: RegExp;
  /** The failure comes from the console during boot, before SSH. */
  duringBoot: boolean;
  /** Run with --json: stdout is one JSON event a line, the verdict last. */
  json?: boolean;
  /** The image's own files show it: the run stops before any disk is written or VM booted. */
  beforeInstall?: boolean;
}

const CASES: Case[] = [
  { profile: 'broken-panic', exit: 1, tier: 'tier0', test: 'boot.reached-ssh', reason: /kernel panic \[kernel-panic\].*Attempted to kill init/, duringBoot: true },
  { profile: 'broken-emergency', exit: 1, tier: 'tier0', test: 'boot.reached-ssh', reason: /emergency shell \[emergency-shell, emergency\.service\]/, duringBoot: true },
  { profile: 'broken-nossh', exit: 1, tier: 'tier0', test: 'boot.reached-ssh', reason: /login prompt .* SSH did not answer within 30 s/, duringBoot: true },
  { profile: 'broken-unit', exit: 1, tier: 'tier0', test: 'boot.no-failed-units', reason: /bootc-harness-broken\.service/, duringBoot: false, json: true },
  { profile: 'broken-nosuid', exit: 1, tier: 'pre', test: 'pre.setid', reason: /\/usr\/bin\/sudo: not SUID\/SGID in the image/, duringBoot: false, beforeInstall: true },
  { profile: 'broken-gains-suid', exit: 1, tier: 'tier1', test: 'image.no-new-privileges', reason: /\/usr\/bin\/env: mode 4755 in the guest, no SUID\/SGID in the source[\s\S]*\/var\/lib\/bootc-harness-gained\/env: mode 4755 in the guest, no SUID\/SGID in the source/, duringBoot: false },
];

/** --json: every stdout line parses; each stage starts and ends (with its duration), the named test's result is an event, the verdict is the last. */
function jsonEvents(t: Test, stdout: string, c: Case): string | undefined {
  const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as RunEvent);
  t.ok(events.length > 0 && events.every((e) => typeof e.event === 'string' && !Number.isNaN(Date.parse(e.at))), `${events.length} JSON events, one a line, each stamped`);
  for (const stage of ['fixture', 'image', 'pre', 'disk', 'vm', 'session', 'suites', 'shutdown']) {
    t.ok(events.some((e) => e.event === 'stage-start' && e.stage === stage), `${stage} started`);
    t.ok(events.some((e) => e.event === 'stage-end' && e.stage === stage && Number.isInteger(e.ms)), `${stage} ended, with its duration`);
  }
  t.ok(events.some((e) => e.event === 'test' && e.id === c.test && e.status === 'failed'), `${c.test} failed, as an event`);
  const last = events.at(-1);
  t.match(last, { event: 'verdict', verdict: 'failed', exitCode: c.exit }, 'the verdict is the last event');
  return last?.event === 'verdict' ? last.runDir : undefined;
}

for (const c of CASES) {
  t.test(`${c.profile} fails with exit ${c.exit} naming its reason`, { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
    const r = await cli(['test-install', '--profile', c.profile, '--tier', '0,1', ...(c.json ? ['--json'] : [])]);
    t.equal(r.code, c.exit, `exit ${c.exit}\n${r.stderr.slice(-2000)}`);
    const runDir = c.json ? jsonEvents(t, r.stdout, c) : /^report: (.+)$/m.exec(r.stdout + r.stderr)?.[1];
    t.ok(runDir, 'the run names its report');
    const summary = JSON.parse(readFileSync(join(runDir!, 'summary.json'), 'utf8')) as Summary;
    t.equal(summary.verdict, 'failed');
    const failed = summary.tests.filter((x) => x.status === 'failed');
    const named = failed.find((x) => x.id === c.test);
    t.ok(named, `${c.test} failed (failed: ${failed.map((x) => x.id).join(', ')})`);
    t.equal(named?.tier, c.tier);
    t.match(named?.error ?? '', c.reason, 'the failure names the reason');
    const session = summary.stages.find((s) => s.name === 'session');
    if (c.beforeInstall) {
      t.same(summary.stages.map((s) => s.name), ['fixture', 'image', 'pre'], 'stopped by the pre checks: no disk written, no VM booted');
      // No VM was started at all: QEMU writes the console log from its first instruction.
      t.notOk(existsSync(join(runDir!, 'console.log')), 'no console log: QEMU never ran');
      t.notOk(summary.kernel?.release, 'no kernel booted');
      t.match(r.stderr, c.reason, 'stderr says why');
      t.same(await findLeftovers(), [], 'nothing left behind');
      return;
    }
    t.ok(session, 'the session stage ran');
    if (c.duringBoot) {
      // Named from the console as it happened, not found at the end of the SSH budget (how
      // fast a loaded TCG guest gets there is the benchmark's business, not this test's).
      const budget = (await loadProfile(c.profile)).budgets.bootMs;
      t.ok(session!.ms < budget, `failed during boot in ${(session!.ms / 1000).toFixed(0)} s, before the ${budget / 1000} s SSH budget ran out`);
      t.notMatch(named?.error ?? '', /exceeded its budget/);
      t.match(r.stderr, c.reason, 'stderr says why');
    }
    if (c.json) await reportPageShowsTheFailure(t, runDir!, summary, c);
    t.same(await findLeftovers(), [], 'nothing left behind');
  });
}

/** The run's report as a person opens it in Chromium: the run, the verdict, the failing test, its message, the console. */
async function reportPageShowsTheFailure(t: Test, runDir: string, s: Summary, c: Case): Promise<void> {
  const seen = await visibleParts(join(runDir, 'index.html'), ['#verdict', '#run', '#tiers', '#tests', '#console', 'a[href="tests/index.html"]']);
  t.match(seen['#verdict'], /^FAILED /, 'the page opens on the verdict');
  t.ok(seen['#run']!.includes(s.image.ref) && seen['#run']!.includes(s.image.digest!), 'the image and its digest');
  t.ok(seen['#run']!.includes(s.kernel.release) && seen['#run']!.includes(s.kernel.tier), 'the kernel and its tier');
  t.match(seen['#tiers'], new RegExp(`${c.tier}\\s+failed`), `${c.tier} failed, per tier`);
  t.match(seen['#tests'], new RegExp(`${c.test.replace(/\./g, '\\.')}\\s+failed`), 'the failing test');
  t.match(seen['#tests'], c.reason, 'its message');
  t.match(seen['#console'], /\S/, 'the console, its last lines');
  t.match(seen['a[href="tests/index.html"]'], /suites' report/, "a link to the suites' own report");
}
