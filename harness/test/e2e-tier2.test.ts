// Tier 2 for real: the ZFS fixture loads a module DKMS built for its own kernel and
// round-trips a pool on a scratch disk; the plain fixture under a profile that expects
// ZFS and tailscaled fails, naming both.
import t from 'tap';
import { findLeftovers } from '../src/util/leftovers.js';
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

t.test('a profile expecting ZFS and tailscaled fails tier2 on the plain fixture, naming both', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'missing-zfs-tailscaled', '--tier', '2']);
  t.equal(r.code, 1, `exit 1\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  t.equal(s.verdict, 'failed');
  const failed = new Map(s.tests.filter((x) => x.status === 'failed').map((x) => [x.id, x.error ?? '']));
  t.match(failed.get('zfs.module-matches-kernel') ?? '', /ZFS: no zfs kernel module for the booted kernel 6\.12/, 'names the missing zfs module');
  t.match(failed.get('tailscale.daemon') ?? '', /tailscaled\.service is not installed/, 'names tailscaled');
  t.match(failed.get('tailscale.cli') ?? '', /tailscale/, 'names the tailscale command');
  t.match(failed.get('services.active') ?? '', /tailscaled\.service is not installed/, 'the listed service is named');
  t.notOk(failed.has('services.enabled'), 'ssh.service is enabled: that check passes');
  t.same(await findLeftovers(), [], 'nothing left behind');
});
