// Tier 2 for real: the ZFS fixture loads a module DKMS built for its own kernel and
// round-trips a pool on a scratch disk; the zfs-at-boot fixture (custom-coreos's
// modules-load.d entry) has it loaded at boot by systemd-modules-load.
//
// Boots: two. The plain zfs fixture, kept: it passes tier 2, then the same VM is judged
// against the zfs-at-boot profile (suites RUN), which must fail naming zfs.loaded-at-boot:
// the journal's record is of that boot, so the modprobe of the first suites run does not
// hide it. The zfs-at-boot fixture is another image, so it boots on its own. The failing
// side of "ZFS and tailscaled expected on an image without them" is asked of e2e-install's
// kept VM, which has the plain image.
// This file runs last in CI: its fixtures (DKMS compiling ZFS) are the last ones ready.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import type { Summary } from '../src/report/summary.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

t.test('the zfs fixture passes tier2: module for its kernel, pool round trip; not loaded at boot', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'zfs', '--tier', '0,2', '--keep']);
  const s = summaryOf(r.stdout + r.stderr);
  const runId = s.kept?.runId ?? '';
  t.teardown(() => cli(['stop', runId]));
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
  for (const id of ['zfs.module-matches-kernel', 'zfs.module-loads', 'zfs.userland-matches-module', 'zfs.pool-round-trip', 'services.active', 'services.enabled']) {
    t.equal(status[id], 'passed', `${id} passed`);
  }
  t.equal(status['zfs.loaded-at-boot'], 'skipped', 'loading at boot is not expected of it: skipped');
  t.equal(status['tailscale.daemon'], 'skipped', 'tailscale is not expected: skipped');

  const again = await cli(['suites', runId, '--profile', 'zfs-at-boot', '--tier', '2']);
  t.equal(again.code, 1, `suites RUN --profile zfs-at-boot: exit 1\n${again.stdout.slice(-2000)}`);
  const dir = /^report: (.+)$/m.exec(again.stdout)![1]!;
  const tests = JSON.parse(readFileSync(join(dir, 'tests.json'), 'utf8')) as Summary['tests'];
  const failed = tests.filter((x) => x.status === 'failed');
  t.same(failed.map((x) => x.id), ['zfs.loaded-at-boot'], 'only loading at boot fails: the module is there and loads on demand');
  t.match(failed[0]?.error ?? '', /systemd-modules-load did not insert zfs this boot \(modules-load\.d entries naming zfs: none\)/, 'and says why');

  const stop = await cli(['stop', runId]);
  t.equal(stop.code, 0, stop.stderr);
  t.same(await findLeftovers(), [], 'nothing left behind');
});

t.test('the zfs-at-boot fixture (custom-coreos\'s modules-load.d entry) has zfs loaded at boot', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'zfs-at-boot', '--tier', '0,2']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  const byId = new Map(s.tests.map((x) => [x.id, x]));
  for (const id of ['zfs.loaded-at-boot', 'zfs.module-matches-kernel', 'zfs.module-loads', 'zfs.pool-round-trip']) t.equal(byId.get(id)?.status, 'passed', `${id} passed`);
  t.match(byId.get('zfs.loaded-at-boot')?.annotations?.find((a) => a.type === 'modules-load.d')?.description ?? '', /\/etc\/modules-load\.d\/zfs\.conf/, 'the entry that loaded it is named');
  t.same(await findLeftovers(), [], 'nothing left behind');
});
