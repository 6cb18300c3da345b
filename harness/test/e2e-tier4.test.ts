// Tier 4 for real: a composefs root made by the image's own initramfs on every kernel
// compat tier, through `matrix --rows` as users run it.
//
// Boots: three, one per kernel compat tier on the composefs layout: composefs-rhel9 (6.1),
// composefs-pre-6.15 (6.12) and composefs-6.18 (6.18.15 exactly, composefs-rs's default row).
// Why that is enough here: the compat tier is a property of the kernel, and the plain and the
// composefs row of one kernel share one rootfs (matrix-fixtures.test.ts), so the composefs
// row boots that rootfs's kernel and initramfs and in addition the layout the tiers differ
// in (erofs through a loop device, file-backed erofs, fd-based overlay layers). The plain
// layout is booted by the other files (e2e-image, e2e-install on trixie, e2e-tier3 on
// luks-tpm2, e2e-tier2 on zfs);
// the rows left out here (bookworm, trixie, trixie-6.18, trixie-backports, composefs-default:
// the newest backports kernel) prove the images, not the harness: `just matrix` and the
// GitHub workflow still run all eight. The failing side (composefs expected on a plain root)
// is asked of e2e-install's kept VM. Cost: 528 s here (three TCG boots, each disk installed
// fresh; eight rows took 708 s in the fresh CI run before).
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

/** One composefs row per kernel compat tier (see the header). */
const ROWS = ['composefs-rhel9', 'composefs-pre-6.15', 'composefs-6.18'];

// `matrix --rows` as users run it: one report with a row per kernel tier; each composefs
// row passes tiers 0, 1 and 4 on its tier's own kernel.
t.test('matrix --tier 0,1,4 --rows (a composefs row per tier): every row passes, a composefs root on all three kernel tiers', { skip }, async (t) => {
  const r = await cli(['matrix', '--tier', '0,1,4', '--rows', ROWS.join(',')]);
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
  const composefs = matrix.rows;
  t.same(composefs.map((x) => x.profile), ROWS, 'the rows asked for, in kernel-tier order');
  // 6.18 exactly (composefs-rs's default row).
  t.match(matrix.rows.find((x) => x.profile === 'composefs-6.18')?.kernel.release ?? '', /^6\.18\.15\+deb13-amd64$/, 'composefs-6.18 booted 6.18.15 exactly');
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
