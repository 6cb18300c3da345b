// End to end, for real: the default fixture is built, packaged, installed, booted
// under QEMU and asserted; at the same time a plain rootfs directory goes the same
// way, so the two runs also prove they do not collide (ports, dirs, names, disks).
//
// Boots: two, at the same time, on purpose: not colliding is the question. The default
// run is the main job as users run it (`test-install`, no arguments); the matrix row of
// the same fixture (e2e-tier4) asks another question (tier 4 not applicable, the kernel
// tier row) through another command, so it keeps its own boot.
import t from 'tap';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/util/leftovers.js';
import { cli, REPO, VM_TESTS, type CliResult } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

// A fixture source is built (or found cached) in a stage of its own, not charged to the image budget.
const STAGES = ['fixture', 'image', 'disk', 'vm', 'session', 'suites', 'shutdown'];

function runDirOf(stdout: string): string {
  const m = /^report: (.+)$/m.exec(stdout);
  if (!m) throw new Error(`no report line in: ${stdout}`);
  return m[1]!;
}

function summaryOf(r: CliResult): Summary {
  return JSON.parse(readFileSync(join(runDirOf(r.stdout), 'summary.json'), 'utf8')) as Summary;
}

t.test('two runs at once: the default fixture and a rootfs directory', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const built = await cli(['fixtures', 'build', 'trixie']);
  t.equal(built.code, 0, built.stderr);
  const rootfs = built.stdout.trim().split(' ')[0]!;

  const [def, dir] = await Promise.all([cli(['test-install']), cli(['test-install', rootfs, '--tier', '0,1'])]);

  t.test('default fixture passes tier0 and tier1', async (t) => {
    t.equal(def.code, 0, `exit 0\n${def.stderr.slice(-3000)}`);
    const runDir = runDirOf(def.stdout);
    const summary = summaryOf(def);
    t.equal(summary.verdict, 'passed');
    t.same(summary.stages.map((s) => s.name), STAGES, 'every stage is listed in order');
    for (const s of summary.stages) t.ok(Number.isInteger(s.ms) && s.ms >= 0, `stage ${s.name} has a duration (${s.ms} ms)`);
    t.match(summary.kernel, { release: /^6\.12\./, tier: 'pre-6.15' });
    t.ok(['kvm', 'tcg'].includes(summary.accel) && summary.accelReason.length > 0, `accelerator chosen with a reason: ${summary.accel}`);
    t.match(summary.image, { ref: /^localhost\/bootc-harness\/trixie:[0-9a-f]{16}$/, id: /^[0-9a-f]{64}$/ });
    const byId = new Map(summary.tests.map((x) => [x.id, x]));
    for (const id of ['boot.system-running', 'boot.no-failed-units', 'boot.console-clean', 'image.setid-bits', 'image.file-capabilities', 'image.profile-setid', 'image.profile-capabilities']) {
      t.equal(byId.get(id)?.status, 'passed', `${id} passed`);
    }
    for (const f of ['index.html', 'junit.xml', 'console.log', 'summary.json', 'journal.txt']) t.ok(existsSync(join(runDir, f)), `report has ${f}`);
    t.match(readFileSync(join(runDir, 'console.log'), 'utf8'), /login:/, 'the console log captured the boot to a login prompt');
    t.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /boot\.system-running/);
  });

  t.test('a Debian rootfs directory passes the selected tiers under the generic profile', async (t) => {
    t.equal(dir.code, 0, `exit 0\n${dir.stderr.slice(-3000)}`);
    const summary = summaryOf(dir);
    t.equal(summary.source, rootfs);
    t.equal(summary.verdict, 'passed');
    t.ok(summary.tests.length > 0 && summary.tests.every((x) => x.tier === 'tier0' || x.tier === 'tier1'), 'only the selected tiers ran');
    t.match(summary.image.ref, /^localhost\/bootc-harness\/rootfs:/);
    t.equal(summary.profile, 'generic', 'nothing names a profile for a directory called rootfs');
    t.match(summary.profileReason ?? '', /no profile is named "rootfs"/);
  });

  t.test('the runs did not collide', async (t) => {
    const a = runDirOf(def.stdout);
    const b = runDirOf(dir.stdout);
    t.not(a, b, 'separate run directories');
    const portOf = (r: CliResult) => /ssh on 127\.0\.0\.1:(\d+)/.exec(r.stderr)?.[1];
    t.ok(portOf(def) && portOf(dir) && portOf(def) !== portOf(dir), `separate ports ${portOf(def)} and ${portOf(dir)}`);
    t.ok([a, b].map((p) => p.split('/').pop()).includes(readlinkSync(join(REPO, 'reports', 'latest'))), 'reports/latest points at one of them');
  });

  t.same(await findLeftovers(), [], 'nothing left behind');
});
