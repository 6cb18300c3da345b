// The upstream rows: the images composefs-rs's own CI installs with bootc's composefs backend,
// one per kernel compat tier (its ci.yml "integration" matrix: centos-bootc stream9 built with
// cfsctl feature rhel9, stream10 with pre-6.15, debian-bootc with neither, i.e. the default
// tier). They are listed for CI by `matrix --list --upstream` and never run by a local matrix.
import t from 'tap';
import { kernelTierOf, validateProfile } from '../src/profile/profile.js';
import { cli } from './helpers/cli.js';

/** composefs-rs's rows: image, the kernel it ships, the compat tier it is built for. */
const COMPOSEFS_RS = [
  { image: 'quay.io/centos-bootc/centos-bootc:stream9', kernel: '5.14', tier: 'rhel9' },
  { image: 'quay.io/centos-bootc/centos-bootc:stream10', kernel: '6.12', tier: 'pre-6.15' },
  { image: 'ghcr.io/bootcrew/debian-bootc:latest', kernel: '6.18', tier: 'default' },
];

async function list(...flags: string[]): Promise<Record<string, string>[]> {
  const r = await cli(['matrix', '--list', ...flags]);
  if (r.code !== 0) throw new Error(`matrix --list ${flags.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>[];
}

t.test('matrix --list --upstream: composefs-rs three rows, bootc with the composefs backend', async (t) => {
  const rows = await list('--upstream');
  t.same(
    rows.map((r) => ({ image: r.source, tier: r.tier })),
    COMPOSEFS_RS.map(({ image, tier }) => ({ image, tier })),
    'the same (image, kernel tier) pairs, oldest kernel first',
  );
  for (const want of COMPOSEFS_RS) t.equal(kernelTierOf(want.kernel), want.tier, `${want.image}: ${want.kernel} is in the ${want.tier} tier`);
  for (const r of rows) {
    t.equal(r.installer, 'bootc', `${r.profile}: installed by bootc`);
    t.equal(r.backend, 'composefs', `${r.profile}: with its composefs backend`);
    t.ok(r.require!.split(',').includes('4'), `${r.profile}: its gate requires tier 4 (the composefs root)`);
    t.match(r.runner, /\S/, `${r.profile}: names a runner`);
    // Where a release is pinned it is the kernel composefs-rs's row boots.
    if (r.release) t.equal(r.release, COMPOSEFS_RS.find((c) => c.image === r.source)?.kernel, `${r.profile}: kernel ${r.release}`);
  }
});

t.test('local rows never include them, and both lists have the same shape', async (t) => {
  const [local, upstream] = await Promise.all([list(), list('--upstream')]);
  t.ok(local.length >= 3, 'there are local rows');
  const names = new Set(upstream.map((r) => r.profile));
  const images = new Set(upstream.map((r) => r.source));
  t.same(local.filter((r) => names.has(r.profile) || images.has(r.source)), [], 'no upstream profile or image among the local rows');
  for (const r of local) t.match(r.source, /^fixtures\//, `${r.profile}: a local fixture`);
  const keys = (r: Record<string, string>) => Object.keys(r).sort();
  for (const r of [...local, ...upstream]) t.same(keys(r), keys(local[0]!), `${r.profile}: the same keys`);
});

t.test('an upstream row is only listed: a local matrix run refuses --upstream', async (t) => {
  const r = await cli(['matrix', '--upstream']);
  t.equal(r.code, 2, 'bad input');
  t.match(r.stderr, /--upstream only lists/);
});

t.test('ci.upstream: a registry image with a runner named, never a local row', async (t) => {
  const base = { description: 'x', source: { image: 'quay.io/example/os:1' }, kernel: { tier: 'default' } };
  t.same(validateProfile({ ...base, ci: { upstream: true, runner: 'ubuntu-24.04' } }, 'up').ci, { matrix: false, upstream: true, runner: 'ubuntu-24.04' });
  t.notOk('upstream' in validateProfile(base, 'plain').ci, 'left out, it stays out');
  const bad: [unknown, string][] = [
    [{ ...base, ci: { upstream: true } }, 'ci.runner is required'],
    [{ ...base, ci: { upstream: true, matrix: true, runner: 'r' } }, 'ci.matrix must be false for an upstream row (local runs use local fixtures), found true'],
    [{ ...base, source: { fixture: 'trixie' }, ci: { upstream: true, runner: 'r' } }, 'ci.upstream must be left out for a local fixture (an upstream row pulls source.image), found true'],
    [{ ...base, ci: { upstream: 'yes' } }, 'ci.upstream must be a boolean, found "yes"'],
  ];
  for (const [raw, message] of bad) t.throws(() => validateProfile(raw, 'bad'), { name: 'UsageError', message: `profile "bad": ${message}` }, message);
});
