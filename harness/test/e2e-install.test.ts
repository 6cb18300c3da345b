// End to end, for real: the default fixture is built, packaged, installed, booted
// under QEMU and asserted; then a plain rootfs directory goes the same way.
import t from 'tap';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/util/leftovers.js';
import { cli, REPO, VM_TESTS } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

const STAGES = ['image', 'disk', 'vm', 'session', 'suites', 'shutdown'];

function runDirOf(stdout: string): string {
  const m = /^report: (.+)$/m.exec(stdout);
  if (!m) throw new Error(`no report line in: ${stdout}`);
  return m[1]!;
}

t.test('test-install on the default fixture passes tier0 and tier1', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const r = await cli(['test-install']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const runDir = runDirOf(r.stdout);
  const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
  t.equal(summary.verdict, 'passed');
  t.same(summary.stages.map((s) => s.name), STAGES, 'every stage is listed in order');
  for (const s of summary.stages) t.ok(Number.isInteger(s.ms) && s.ms >= 0, `stage ${s.name} has a duration (${s.ms} ms)`);
  t.match(summary.kernel, { release: /^6\.12\./, tier: 'pre-6.15' });
  t.ok(['kvm', 'tcg'].includes(summary.accel) && summary.accelReason.length > 0, `accelerator chosen with a reason: ${summary.accel}`);
  t.match(summary.image, { ref: 'localhost/bootc-harness/trixie:latest', id: /^[0-9a-f]{64}$/ });
  const byId = new Map(summary.tests.map((x) => [x.id, x]));
  for (const id of ['boot.system-running', 'boot.no-failed-units', 'boot.console-clean', 'image.setid-bits', 'image.file-capabilities', 'image.profile-setid', 'image.profile-capabilities']) {
    t.equal(byId.get(id)?.status, 'passed', `${id} passed`);
  }
  t.ok(summary.tests.some((x) => x.tier === 'tier0') && summary.tests.some((x) => x.tier === 'tier1'), 'both tiers ran');
  for (const f of ['index.html', 'junit.xml', 'console.log', 'summary.json', 'journal.txt']) t.ok(existsSync(join(runDir, f)), `report has ${f}`);
  t.match(readFileSync(join(runDir, 'console.log'), 'utf8'), /login:/, 'the console log captured the boot to a login prompt');
  t.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /boot\.system-running/);
  t.equal(readlinkSync(join(REPO, 'reports', 'latest')), runDir.split('/').pop(), 'reports/latest points at this run');
  t.same(await findLeftovers(), [], 'nothing left behind');
});

t.test('test-install DIR works on a plain Debian rootfs directory', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const built = await cli(['fixtures', 'build', 'trixie']);
  t.equal(built.code, 0, built.stderr);
  const rootfs = built.stdout.trim().split(' ')[0]!;
  const r = await cli(['test-install', rootfs, '--tier', '0,1']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const summary = JSON.parse(readFileSync(join(runDirOf(r.stdout), 'summary.json'), 'utf8')) as Summary;
  t.equal(summary.source, rootfs);
  t.equal(summary.verdict, 'passed');
  t.notOk(summary.tests.some((x) => x.tier !== 'tier0' && x.tier !== 'tier1'), 'only the selected tiers ran');
  t.same(await findLeftovers(), [], 'nothing left behind');
});
