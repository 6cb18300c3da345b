// Expected and missing is a failure that names the feature: the plain fixture (ext4
// root, no ZFS, no tailscale, no composefs) under a profile that expects all three.
//
// Boots: one, shared by both questions (tier 2: ZFS and tailscaled named; tier 4: what
// the root is instead of composefs). They ask about the same image booted the same way,
// so one VM answers both; separate boots would prove nothing more.
import t from 'tap';
import { findLeftovers } from '../src/util/leftovers.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

t.test('a profile expecting ZFS, tailscaled and a composefs root fails tiers 2 and 4 on the plain fixture, naming each', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'plain-lacks-expected', '--tier', '2,4']);
  t.equal(r.code, 1, `exit 1\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  t.equal(s.verdict, 'failed');
  const failed = new Map(s.tests.filter((x) => x.status === 'failed').map((x) => [x.id, x.error ?? '']));

  t.test('tier 2 names ZFS and tailscaled', async (t) => {
    t.match(failed.get('zfs.module-matches-kernel') ?? '', /ZFS: no zfs kernel module for the booted kernel 6\.12/, 'names the missing zfs module');
    t.match(failed.get('tailscale.daemon') ?? '', /tailscaled\.service is not installed/, 'names tailscaled');
    t.match(failed.get('tailscale.cli') ?? '', /tailscale/, 'names the tailscale command');
    t.match(failed.get('services.active') ?? '', /tailscaled\.service is not installed/, 'the listed service is named');
    t.notOk(failed.has('services.enabled'), 'ssh.service is enabled: that check passes');
  });

  t.test('tier 4 says what the root is instead of composefs', async (t) => {
    t.match(failed.get('composefs.root-mount') ?? '', /\/ is not composefs: it is ext4 from \/dev\/vda2 \(rw/, 'names what the root is instead');
    t.match(failed.get('composefs.root-readonly') ?? '', /\/ must not be writable/);
    t.match(failed.get('composefs.digest') ?? '', /no composefs=<digest>/);
  });

  t.same(await findLeftovers(), [], 'nothing left behind');
});
