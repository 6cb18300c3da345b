// The package, adopted: `npm pack` of this checkout, installed into a fresh directory
// outside it, runs test-install there with the caller's own profile (extending a shipped
// one) and the caller's own suite (one check that holds, one that does not), with the
// checkout hidden: bubblewrap mounts an empty tmpfs over it, so a read of harness/,
// vm-images/ or suites/ of the checkout fails the run. The caller's failing check fails the
// run by name; `gate --require 0,user` of that run fails, `--require 0` passes.
//
// Boots: one VM (tier 0 and the caller's suite on the default fixture's rootfs, resolved by
// the fixture API); the example's check reboots it once. Measured here (TCG, 2 cores, disk
// cached): 141 s in all: npm pack 1.3 s, npm install of the tarball 8.7 s (--prefer-offline,
// npm cache warm; ~40 s when npm must fetch its dependencies' metadata), the run ~125 s (boot
// 47 s, suites 53 s of which the reboot 44 s), the gates and summary a few seconds.
import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixture } from '../src/rootfs-builder/build.js';
import { findLeftovers } from '../src/run/leftovers.js';
import type { Summary } from '../src/report/summary.js';
import { REPO, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(argv: string[], cwd: string, env: Record<string, string> = {}): Promise<Proc> {
  const started = Date.now();
  return new Promise((done) => {
    // Reports go where the caller's cwd puts them, whatever this test's environment says. A
    // caller's shell has none of tap's environment either: its NODE_OPTIONS imports modules from
    // this checkout's node_modules, which the sandbox hides.
    const { BOOTC_HARNESS_REPORTS: _, NODE_OPTIONS: __, ...rest } = process.env;
    const inherited = Object.fromEntries(Object.entries(rest).filter(([k]) => !/^(TAP|_TAPJS)/.test(k)));
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** argv run with the checkout out of reach: an empty tmpfs over it (bwrap keeps root's capabilities with --cap-add ALL).
 *  NODE_OPTIONS is unset inside: tap's process-info hook puts one naming this checkout's node_modules
 *  into every child it sees spawned, which a caller's shell would not have. */
const hidden = (argv: string[]) => ['bwrap', '--dev-bind', '/', '/', '--tmpfs', REPO, '--cap-add', 'ALL', '--die-with-parent', '--unsetenv', 'NODE_OPTIONS', '--', ...argv];

// The example consumer (examples/custom-image: its profile extending trixie, its
// bootc-harness.toml, its check that writes a scratch disk and reboots), plus one check that
// cannot hold: the trixie fixture has no such marker.
const EXAMPLE = join(REPO, 'examples', 'custom-image');
const FAILING = `import { test, expect } from 'bootc-harness/test';

test('caller: the image ships /etc/bootc-harness-caller-marker', async ({ machine }) => {
  const r = await machine.exec('test -e /etc/bootc-harness-caller-marker && echo present || echo absent');
  expect(r.stdout.trim(), 'the marker this check wants is not in the trixie fixture').toBe('present');
});
`;
const PASSING = 'custom: data written to a scratch disk is there after a reboot';
const FAILING_ID = 'caller: the image ships /etc/bootc-harness-caller-marker';

t.test('packed, installed elsewhere, the checkout hidden: the caller profile and suite count in the verdict and the gate', { skip }, async (t) => {
  const base = mkdtempSync('/var/tmp/bh-consumer-');
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  t.notOk(base.startsWith(REPO), 'the consumer is outside the checkout');

  const pack = await run(['npm', 'pack', '--silent', '--pack-destination', base], REPO);
  t.equal(pack.code, 0, `npm pack\n${pack.stderr}`);
  const tgz = readdirSync(base).find((f) => /^bootc-harness-.*\.tgz$/.test(f));
  t.ok(tgz, `a tarball (${pack.ms} ms)`);

  const consumer = join(base, 'custom-image');
  // As a user has it: the example's files, not whatever a run of it there left (node_modules, reports).
  cpSync(EXAMPLE, consumer, { recursive: true, filter: (src) => !/^\/(node_modules|reports)(\/|$)/.test(src.slice(EXAMPLE.length)) });
  writeFileSync(join(consumer, 'checks', 'marker.spec.ts'), FAILING);
  const install = await run(['npm', 'install', '--prefer-offline', '--no-audit', '--no-fund', join(base, tgz!)], consumer);
  t.equal(install.code, 0, `npm install of the tarball\n${install.stderr.slice(-2000)}`);
  t.comment(`npm pack ${pack.ms} ms, npm install ${install.ms} ms`);

  const seen = await run(hidden(['ls', '-A', REPO]), consumer);
  t.equal(seen.code, 0, seen.stderr);
  t.equal(seen.stdout, '', 'inside the sandbox the checkout is empty');

  const fixture = await buildFixture('trixie');
  const r = await run(hidden(['npx', '--no', 'bootc-harness', 'test-install', fixture.rootfs, '--tier', '0']), consumer);
  t.equal(r.code, 1, `exit 1: the caller's failing check fails the run\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  t.match(r.stdout, /^failed: \[user\] caller: the image ships \/etc\/bootc-harness-caller-marker: /m, 'the failing caller check is named');
  t.match(r.stderr, /profile: custom-image \(named by .*\/bootc-harness\.toml\)/, "the profile and suites come from the caller's bootc-harness.toml");
  const runDir = /^report: (.+)$/m.exec(r.stdout)?.[1] ?? '';
  t.ok(runDir.startsWith(join(consumer, 'reports')), `the report is under the caller's directory (${runDir})`);

  const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
  const byId = new Map(s.tests.map((x) => [x.id, x]));
  t.equal(s.profile, 'custom-image', 'judged by the caller profile');
  t.same(byId.get(PASSING), { id: PASSING, tier: 'user', status: 'passed' }, 'the passing caller check (a scratch disk, a reboot): passed, tier user');
  t.equal(byId.get(FAILING_ID)?.status, 'failed', 'the failing one: failed');
  t.equal(byId.get(FAILING_ID)?.tier, 'user');
  t.equal(s.tiers?.tier0, 'passed', 'tier 0 passed');
  t.equal(s.tiers?.user, 'failed', 'the user tier failed');
  t.equal(s.verdict, 'failed');
  const junit = readFileSync(join(runDir, 'junit.xml'), 'utf8');
  t.ok(junit.includes(FAILING_ID) && junit.includes(PASSING), 'the caller checks are in the JUnit report');
  t.ok(existsSync(join(runDir, 'tests', 'index.html')), 'and in the HTML report');

  const gateUser = await run(hidden(['npx', '--no', 'bootc-harness', 'gate', '--run', runDir, '--require', '0,user']), consumer);
  t.equal(gateUser.code, 1, `gate --require 0,user fails\n${gateUser.stdout}`);
  t.match(gateUser.stdout, /^ {2}user +failed /m, 'naming the user tier');
  const gate0 = await run(hidden(['npx', '--no', 'bootc-harness', 'gate', '--run', runDir, '--require', '0']), consumer);
  t.equal(gate0.code, 0, `gate --require 0 passes\n${gate0.stdout}`);

  const outputs = join(base, 'github-output');
  const md = await run(hidden(['npx', '--no', 'bootc-harness', 'summary', runDir, '--github-output', outputs]), consumer);
  t.equal(md.code, 0, md.stderr);
  t.match(md.stdout, /^\| user \| failed \| 1 \| 1 \| 0 \|$/m, 'the job summary: the user tier row');
  t.match(readFileSync(outputs, 'utf8'), /^verdict=failed$/m, 'the step outputs');

  // For the unit tests of the job summary: a real run's summary.json (BOOTC_HARNESS_KEEP_SUMMARY=FILE).
  if (process.env.BOOTC_HARNESS_KEEP_SUMMARY) writeFileSync(process.env.BOOTC_HARNESS_KEEP_SUMMARY, readFileSync(join(runDir, 'summary.json')));
  t.same(await findLeftovers(), [], 'nothing left behind');
});
