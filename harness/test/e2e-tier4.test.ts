// Tier 4 for real: a composefs root made by the image's own initramfs on every kernel
// compat tier, and the same assertions failing, with the reason, on a plain root.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/util/leftovers.js';
import { cli, VM_TESTS } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

function summaryOf(out: string): Summary {
  const m = /^report: (.+)$/m.exec(out);
  if (!m) throw new Error(`the run names no report:\n${out.slice(-2000)}`);
  return JSON.parse(readFileSync(join(m[1]!, 'summary.json'), 'utf8')) as Summary;
}

const TIER4 = ['composefs.root-mount', 'composefs.erofs-lower', 'composefs.root-readonly', 'composefs.digest', 'composefs.verity'];

for (const [profile, tier, release] of [
  ['composefs-rhel9', 'rhel9', /^6\.1\./],
  ['composefs-pre-6.15', 'pre-6.15', /^6\.12\./],
  ['composefs-default', 'default', /^(6\.(1[5-9]|[2-9]\d)|[7-9])\./],
] as const) {
  t.test(`${profile}: composefs root on the ${tier} kernel tier passes tiers 0, 1 and 4`, { skip }, async (t) => {
    const r = await cli(['test-install', '--profile', profile, '--tier', '0,1,4']);
    t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
    const s = summaryOf(r.stdout + r.stderr);
    t.equal(s.rootLayout, 'composefs', 'the installer laid out a composefs repository');
    t.equal(s.kernel.tier, tier);
    t.match(s.kernel.release, release, `kernel ${s.kernel.release}`);
    const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
    for (const id of TIER4) t.equal(status[id], 'passed', `${id} passed`);
    t.equal(status['image.setid-bits'], 'passed', 'SUID bits survive composefs (metadata in the EROFS image)');
    t.equal(status['image.file-capabilities'], 'passed', 'file capabilities survive composefs');
    t.same(await findLeftovers(), [], 'nothing left behind');
  });
}

t.test('a composefs-expecting profile on the plain fixture fails tier 4, saying what the root is', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'composefs-expected-plain', '--tier', '4']);
  t.equal(r.code, 1, `exit 1\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  const failed = new Map(s.tests.filter((x) => x.status === 'failed').map((x) => [x.id, x.error ?? '']));
  t.match(failed.get('composefs.root-mount') ?? '', /\/ is not composefs: it is ext4 from \/dev\/vda2 \(rw/, 'names what the root is instead');
  t.match(failed.get('composefs.root-readonly') ?? '', /\/ must not be writable/);
  t.match(failed.get('composefs.digest') ?? '', /no composefs=<digest>/);
  t.same(await findLeftovers(), [], 'nothing left behind');
});
