// The upstream rows: the bootc images bootc and composefs-rs themselves test, installed as bootc
// documents. composefs-rs's integration matrix (containers/composefs-rs .github/workflows/ci.yml)
// boots centos-bootc stream9 (cfsctl feature rhel9), stream10 (pre-6.15) and debian-bootc
// (default tier); bootc's own CI (bootc-dev/bootc .github/workflows/ci.yml test-integration)
// installs centos-10 with both backends and excludes centos-9 with the composefs one (#1812).
// So: stream10 on the ostree backend its image selects (its root composefs through
// prepare-root.conf), debian-bootc on the composefs backend its own Justfile installs with, and
// stream9 no row (no composefs backend without a sealed UKI; its systemd 252 cannot run the
// installer VM, so only a host placement, which trusts the image, could install it).
import t from 'tap';
import { kernelTierOf, loadProfile, validateProfile } from '../src/profile/profile.js';
import { cli } from './helpers/cli.js';

const ROWS = [
  { image: 'quay.io/centos-bootc/centos-bootc:stream10', kernel: '6.12', tier: 'pre-6.15', backend: 'ostree' },
  { image: 'ghcr.io/bootcrew/debian-bootc:latest', kernel: '6.18', tier: 'default', backend: 'composefs' },
];

async function list(...flags: string[]): Promise<Record<string, string>[]> {
  const r = await cli(['matrix', '--list', ...flags]);
  if (r.code !== 0) throw new Error(`matrix --list ${flags.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>[];
}

t.test('matrix --list --upstream: stream10 on ostree, debian-bootc on composefs, each gated on its composefs root', async (t) => {
  const rows = await list('--upstream');
  t.same(
    rows.map((r) => ({ image: r.source, tier: r.tier, backend: r.backend })),
    ROWS.map(({ image, tier, backend }) => ({ image, tier, backend })),
    'the same (image, kernel tier, backend), oldest kernel first',
  );
  for (const want of ROWS) t.equal(kernelTierOf(want.kernel), want.tier, `${want.image}: ${want.kernel} is in the ${want.tier} tier`);
  for (const r of rows) {
    t.equal(r.installer, 'bootc', `${r.profile}: installed by bootc`);
    t.ok(r.require!.split(',').includes('4'), `${r.profile}: its gate requires tier 4 (a composefs root on either backend)`);
    t.match(r.runner, /\S/, `${r.profile}: names a runner`);
    if (r.release) t.equal(r.release, ROWS.find((c) => c.image === r.source)?.kernel, `${r.profile}: kernel ${r.release}`);
  }
});

t.test('stream9 is no row, and its profile says why', async (t) => {
  const rows = await list('--upstream');
  t.notOk(rows.some((r) => r.source.endsWith(':stream9')), 'not in the gate');
  const p = await loadProfile('centos-bootc-stream9');
  t.notOk(p.ci.upstream);
  t.match(p.description, /bootc-dev\/bootc#1812/, 'the composefs backend bootc does not support there');
  t.match(p.description, /systemd >= 256/, 'the installer VM it cannot run');
  t.match(p.description, /--placement host/, 'how to run it anyway, and that it trusts the image');
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
