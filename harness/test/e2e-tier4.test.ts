// Tier 4 for real: a composefs root made by the image's own initramfs on every kernel
// compat tier, through `just matrix` as users run it.
//
// Boots: one per matrix row (eight: each row is another image, or another kernel, and the
// matrix's point is that each boots on its own). The failing side (composefs expected on a
// plain root) is asked of e2e-install's kept VM.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import { cli, VM_TESTS } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

const TIER4 = ['composefs.root-mount', 'composefs.erofs-lower', 'composefs.root-readonly', 'composefs.digest'];
// The fixtures' ext4 is written without being mounted, so no object has fs-verity (profiles say
// verity: none): a check with nothing to expect is skipped with the reason, never passed.
const VERITY_NONE = /expects no fs-verity \(verity: none\)/;

const RELEASE: Record<string, RegExp> = { rhel9: /^6\.1\./, 'pre-6.15': /^6\.12\./, default: /^(6\.(1[5-9]|[2-9]\d)|[7-9])\./ };

// `just matrix` as users run it: every ci.matrix profile, one report with a row per kernel
// tier; the composefs fixtures pass tiers 0, 1 and 4 on each tier's own kernel.
t.test('matrix --tier 0,1,4: every row passes, a composefs root on all three kernel tiers', { skip }, async (t) => {
  const r = await cli(['matrix', '--tier', '0,1,4']);
  t.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  const m = /^report: (.+)$/m.exec(r.stdout);
  t.ok(m, 'the matrix names its report');
  const matrix = JSON.parse(readFileSync(join(m![1]!, 'matrix.json'), 'utf8')) as { rows: { profile: string; expectedTier: string; kernel: { release: string; tier: string }; verdict: string; report: string }[] };
  const tiers = matrix.rows.map((x) => x.kernel.tier);
  t.same([...new Set(tiers)], ['rhel9', 'pre-6.15', 'default'], 'rows ordered by kernel tier, every tier present');
  for (const row of matrix.rows) {
    t.equal(row.verdict, 'passed', `${row.profile} passed`);
    t.equal(row.kernel.tier, row.expectedTier, `${row.profile}: kernel ${row.kernel.release} is in the ${row.expectedTier} tier`);
    t.match(row.kernel.release, RELEASE[row.kernel.tier]!, `${row.profile}: kernel release recorded`);
  }
  const composefs = matrix.rows.filter((x) => x.profile.startsWith('composefs-'));
  t.same([...new Set(composefs.map((x) => x.kernel.tier))], ['rhel9', 'pre-6.15', 'default'], 'a composefs row per kernel tier');
  // 6.18 exactly (composefs-rs's default row), beside the newest backports kernel.
  for (const name of ['trixie-6.18', 'composefs-6.18']) t.match(matrix.rows.find((x) => x.profile === name)?.kernel.release ?? '', /^6\.18\.15\+deb13-amd64$/, `${name} booted 6.18.15 exactly`);
  const newest = matrix.rows.find((x) => x.profile === 'trixie-backports')?.kernel.release ?? '';
  t.ok(newest && !newest.startsWith('6.18.'), `the newest backports kernel stays a row of its own (${newest})`);
  for (const row of composefs) {
    const s = JSON.parse(readFileSync(join(m![1]!, '..', row.report, 'summary.json'), 'utf8')) as Summary;
    t.equal(s.rootLayout, 'composefs', `${row.profile}: the installer laid out a composefs repository`);
    const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
    for (const id of [...TIER4, 'image.setid-bits', 'image.file-capabilities', 'image.no-new-privileges']) t.equal(status[id], 'passed', `${row.profile}: ${id}`);
    const verity = s.tests.find((x) => x.id === 'composefs.verity');
    t.equal(verity?.status, 'skipped', `${row.profile}: composefs.verity skipped`);
    t.match(JSON.stringify(verity), VERITY_NONE, `${row.profile}: saying why`);
  }
  t.match(readFileSync(join(m![1]!, 'matrix.md'), 'utf8'), /\| composefs-rhel9 \| 6\.1\./, 'the markdown table has the kernel release');
  t.same(await findLeftovers(), [], 'nothing left behind');
});
