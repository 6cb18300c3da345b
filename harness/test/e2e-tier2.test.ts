// Tier 2 for real: the ZFS fixture loads a module DKMS built for its own kernel and
// round-trips a pool on a scratch disk.
//
// Boots: one (the zfs fixture). Its failing side (a profile expecting ZFS and tailscaled
// on an image without them) is asked of e2e-install's kept VM, which has the plain image.
// This file runs last in CI: its fixture (DKMS compiling ZFS) is the last one ready.
import t from 'tap';
import { findLeftovers } from '../src/run/leftovers.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

t.test('the zfs fixture passes tier2: module for its kernel, pool round trip', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'zfs', '--tier', '0,2']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
  for (const id of ['zfs.module-matches-kernel', 'zfs.module-loads', 'zfs.userland-matches-module', 'zfs.pool-round-trip', 'services.active', 'services.enabled']) {
    t.equal(status[id], 'passed', `${id} passed`);
  }
  t.equal(status['tailscale.daemon'], 'skipped', 'tailscale is not expected: skipped');
  t.same(await findLeftovers(), [], 'nothing left behind');
});
