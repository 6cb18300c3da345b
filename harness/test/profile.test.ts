import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import {
  DEFAULT_PROFILE,
  kernelTierOf,
  listProfiles,
  loadProfile,
  validateProfile,
  type KernelTier,
} from '../src/profile/profile.js';

/** The smallest valid profile: only the required keys. */
const minimal = () => ({
  description: 'a test image',
  source: { fixture: 'trixie' },
  kernel: { tier: 'pre-6.15' },
});

/** Sets (or, with `undefined`, deletes) the key at a dotted path of a fresh minimal profile. */
function withKey(path: string, value: unknown): Record<string, unknown> {
  const raw: Record<string, unknown> = minimal();
  const keys = path.split('.');
  let at = raw;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete at[last];
  else at[last] = value;
  return raw;
}

t.test('every profile in vm-images/ loads', async (t) => {
  const names = await listProfiles();
  t.ok(names.includes(DEFAULT_PROFILE), 'the default profile exists');
  for (const want of ['trixie', 'centos-bootc-stream9', 'centos-bootc-stream10', 'debian-bootc', 'snow']) {
    t.ok(names.includes(want), `${want} is listed`);
  }
  for (const name of names) {
    const p = await loadProfile(name);
    t.equal(p.name, name, `${name}: name is the file stem`);
    if (p.kernel.release) t.equal(kernelTierOf(p.kernel.release), p.kernel.tier, `${name}: release agrees with tier`);
    if ('image' in p.source) t.equal(p.ci.matrix, false, `${name}: upstream images are not CI matrix rows here`);
  }
});

t.test('the default fixture profile', async (t) => {
  const p = await loadProfile(DEFAULT_PROFILE);
  t.same(p.source, { fixture: 'trixie' });
  t.equal(p.installer, 'direct');
  t.same(p.kernel, { tier: 'pre-6.15', release: '6.12' });
  t.same(p.expect.suid, ['/usr/bin/sudo']);
  t.same(p.expect.caps, { '/usr/bin/ping': 'cap_net_raw=ep' });
  t.same(p.expect.services, ['ssh.service', 'systemd-networkd.service']);
  t.equal(p.ci.matrix, true);
});

t.test('defaults are filled for omitted keys', async (t) => {
  const p = validateProfile(minimal(), 'tiny');
  t.same(p, {
    name: 'tiny',
    description: 'a test image',
    source: { fixture: 'trixie' },
    installer: 'auto',
    bootcBackend: 'auto',
    kernel: { tier: 'pre-6.15' },
    expect: {
      suid: [],
      caps: {},
      readonlyUsr: false,
      bootc: false,
      zfs: false,
      zfsLoadedAtBoot: false,
      tailscaled: false,
      services: [],
      enabledUnits: [],
      luks: null,
      composefs: null,
    },
    console: { warnOnly: [] },
    budgets: { imageMs: 600000, diskMs: 600000, bootMs: 300000, testMs: 120000, shutdownMs: 60000 },
    vm: { memoryMiB: 2048, cpus: 2, diskGiB: 6, scratchDisks: 1, network: 'isolated' },
    ci: { matrix: false },
  });
  t.notOk('release' in p.kernel, 'optional kernel.release stays out');
  t.notOk('runner' in p.ci, 'optional ci.runner stays out');

  const partial = validateProfile({ ...minimal(), budgets: { bootMs: 5 }, vm: { cpus: 4 } }, 'partial');
  t.same(partial.budgets, { imageMs: 600000, diskMs: 600000, bootMs: 5, testMs: 120000, shutdownMs: 60000 });
  t.same(partial.vm, { memoryMiB: 2048, cpus: 4, diskGiB: 6, scratchDisks: 1, network: 'isolated' });

  // Defaults are fresh objects, never shared between profiles.
  const a = validateProfile(minimal(), 'a');
  const b = validateProfile(minimal(), 'b');
  a.expect.suid.push('/usr/bin/x');
  t.same(b.expect.suid, []);
});

t.test('full profiles keep every value', async (t) => {
  const raw = {
    name: 'full',
    description: 'everything',
    source: { image: 'ghcr.io/example/os:1' },
    installer: 'bootc',
    bootcBackend: 'composefs',
    kernel: { tier: 'default', release: '6.18' },
    expect: {
      suid: ['/usr/bin/sudo', '/usr/bin/passwd'],
      caps: { '/usr/bin/ping': 'cap_net_raw=ep', '/usr/bin/x': 'cap_net_admin,cap_net_raw+ep' },
      readonlyUsr: true,
      bootc: true,
      zfs: true,
      zfsLoadedAtBoot: true,
      tailscaled: true,
      services: ['tailscaled.service', 'zfs.target'],
      enabledUnits: ['fstrim.timer', 'sshd.socket', 'var-lib.mount', 'foo.path', 'getty@tty1.service'],
      luks: { tpm2: true },
      composefs: { verity: 'required' },
    },
    console: { warnOnly: ['kernel-warning'] },
    budgets: { imageMs: 1, diskMs: 2, bootMs: 3, testMs: 4, shutdownMs: 5 },
    vm: { memoryMiB: 4096, cpus: 4, diskGiB: 20, scratchDisks: 0, network: 'outbound' },
    ci: { matrix: false, runner: 'ubuntu-24.04' },
  };
  const p = validateProfile(raw, 'full');
  t.same(p, raw);
});

// Each row: the key path to set (undefined value = delete), the value, the exact message after `profile "bad": `.
const BAD: [string, unknown, string][] = [
  ['expect.zfs', 'yes', 'expect.zfs must be a boolean, found "yes"'],
  ['vm.scratchDisks', 5, 'vm.scratchDisks must be a whole number from 0 to 4, found 5'],
  ['vm.scratchDisks', -1, 'vm.scratchDisks must be a whole number from 0 to 4, found -1'],
  ['vm.network', 'nat', 'vm.network must be one of isolated, outbound, found "nat"'],
  ['expect.zsf', true, 'unknown key expect.zsf'],
  ['colour', 'blue', 'unknown key colour'],
  ['kernel.flavor', 'rt', 'unknown key kernel.flavor'],
  ['budgets.bootSeconds', 5, 'unknown key budgets.bootSeconds'],
  ['expect.luks.pin', true, 'unknown key expect.luks.pin'],
  ['description', undefined, 'description is required'],
  ['description', '  ', 'description must be a non-empty string, found "  "'],
  ['source', undefined, 'source is required'],
  ['kernel', { release: '6.12' }, 'kernel.release "6.12" needs kernel.tier ("pre-6.15")'],
  ['kernel', undefined, 'kernel is required'],
  ['kernel.tier', '6.12', 'kernel.tier must be one of rhel9, pre-6.15, default, found "6.12"'],
  ['kernel.release', 6.12, 'kernel.release must be a version prefix like "6.12", found 6.12'],
  ['kernel.release', '6.18', 'kernel.release "6.18" is in kernel tier default, but kernel.tier is "pre-6.15"'],
  ['source', 'trixie', 'source must be an object with fixture or image, found "trixie"'],
  ['source', {}, 'source must have exactly one of fixture, image, found {}'],
  ['source', { fixture: 'a', image: 'b' }, 'source must have exactly one of fixture, image, found {"fixture":"a","image":"b"}'],
  ['source', { path: '/x' }, 'unknown key source.path'],
  ['source', { fixture: '../etc' }, 'source.fixture must be a fixture name, found "../etc"'],
  ['source', { image: 'quay.io/x y' }, 'source.image must be an image reference, found "quay.io/x y"'],
  ['installer', 'anaconda', 'installer must be one of auto, bootc, direct, found "anaconda"'],
  ['expect', [], 'expect must be an object, found []'],
  ['expect.suid', '/usr/bin/sudo', 'expect.suid must be a list, found "/usr/bin/sudo"'],
  ['expect.suid', ['/usr/bin/sudo', 'usr/bin/su'], 'expect.suid[1] must be an absolute path, found "usr/bin/su"'],
  ['expect.suid', ['/usr/bin/../bin/su'], 'expect.suid[0] must be an absolute path, found "/usr/bin/../bin/su"'],
  ['expect.suid', ['/usr/bin/sudo', '/usr/bin/sudo'], 'expect.suid[1] must not repeat an earlier entry, found "/usr/bin/sudo"'],
  ['expect.caps', { 'usr/bin/ping': 'cap_net_raw=ep' }, 'expect.caps key must be an absolute path, found "usr/bin/ping"'],
  ['expect.caps', { '/usr/bin/ping': 'net_raw' }, 'expect.caps["/usr/bin/ping"] must be capability text like "cap_net_raw=ep", found "net_raw"'],
  ['expect.caps', ['/usr/bin/ping'], 'expect.caps must be an object of absolute path -> capability text, found ["/usr/bin/ping"]'],
  ['expect.services', ['sshd'], 'expect.services[0] must be a unit name ending in .service, .target, .socket, .timer, .mount or .path, found "sshd"'],
  ['expect.enabledUnits', ['a.service', 'b.slice'], 'expect.enabledUnits[1] must be a unit name ending in .service, .target, .socket, .timer, .mount or .path, found "b.slice"'],
  ['expect.luks', true, 'expect.luks must be null or an object, found true'],
  ['expect.luks', {}, 'expect.luks.tpm2 is required'],
  ['expect.luks', { tpm2: 'yes' }, 'expect.luks.tpm2 must be a boolean, found "yes"'],
  ['expect.composefs', { verity: 'on' }, 'expect.composefs.verity must be one of required, optional, none, found "on"'],
  ['budgets.bootMs', 0, 'budgets.bootMs must be a positive integer, found 0'],
  ['budgets.testMs', -1, 'budgets.testMs must be a positive integer, found -1'],
  ['budgets.imageMs', '600000', 'budgets.imageMs must be a positive integer, found "600000"'],
  ['budgets.diskMs', 1.5, 'budgets.diskMs must be a positive integer, found 1.5'],
  ['vm.cpus', 0, 'vm.cpus must be a positive integer, found 0'],
  ['vm.memoryMiB', null, 'vm.memoryMiB must be a positive integer, found null'],
  ['ci.matrix', 'true', 'ci.matrix must be a boolean, found "true"'],
  ['ci.runner', '', 'ci.runner must be a runner label, found ""'],
  ['name', 'other', 'name must match the file name "bad", found "other"'],
];

t.test('bad profiles name the key path and what was found', async (t) => {
  for (const [path, value, message] of BAD) {
    t.throws(() => validateProfile(withKey(path, value), 'bad'), { name: 'UsageError', message: `profile "bad": ${message}` }, `${path} = ${JSON.stringify(value)}`);
  }
  // The console pattern ids come from vm/console-patterns.ts, so the list is matched, not spelled out.
  t.throws(() => validateProfile(withKey('console.warnOnly', ['opps']), 'bad'), {
    name: 'UsageError',
    message: /^profile "bad": console\.warnOnly\[0\] must be one of kernel-panic, oops, .*, found "opps"$/,
  });
  t.same(validateProfile(withKey('console.warnOnly', ['oops', 'kernel-warning']), 'ok').console.warnOnly, ['oops', 'kernel-warning']);
  for (const raw of [null, [], 'x', 3]) {
    t.throws(() => validateProfile(raw, 'bad'), { name: 'UsageError', message: /^profile "bad": the profile must be a JSON object, found / });
  }
  try {
    validateProfile(withKey('expect.zfs', 'yes'), 'bad');
  } catch (e) {
    t.type(e, UsageError);
    t.notMatch((e as Error).message, /\n/, 'one line');
  }
});

t.test('kernelTierOf boundaries', async (t) => {
  const table: [string, KernelTier][] = [
    ['5.14.0-570.el9', 'rhel9'],
    ['6.1.0-40-amd64', 'rhel9'],
    ['6.11.9', 'rhel9'],
    ['6.12.107+deb13-amd64', 'pre-6.15'],
    ['6.12', 'pre-6.15'],
    ['6.14.0', 'pre-6.15'],
    ['6.15.0', 'default'],
    ['6.18.3+deb13-amd64', 'default'],
    ['6.120.0', 'default'],
    ['7.0.1', 'default'],
    ['4.18.0-553.el8_10.x86_64', 'rhel9'],
  ];
  for (const [release, tier] of table) t.equal(kernelTierOf(release), tier, release);
  t.throws(() => kernelTierOf('linux'), RangeError);
  t.throws(() => kernelTierOf('6'), RangeError);
});

t.test('loadProfile and listProfiles', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'profiles-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'good.json'), JSON.stringify(minimal()));
  await writeFile(join(dir, 'broken.json'), '{ "description": ');
  await writeFile(join(dir, 'wrong.json'), JSON.stringify(withKey('expect.zfs', 'yes')));
  await writeFile(join(dir, 'notes.txt'), 'not a profile');

  t.same(await listProfiles(dir), ['broken', 'good', 'wrong']);
  t.same(await listProfiles(join(dir, 'missing')), []);
  t.equal((await loadProfile('good', dir)).name, 'good');
  await t.rejects(loadProfile('broken', dir), { name: 'UsageError', message: /^profile "broken": .*broken\.json is not valid JSON: / });
  await t.rejects(loadProfile('wrong', dir), { name: 'UsageError', message: 'profile "wrong": expect.zfs must be a boolean, found "yes"' });
  await t.rejects(loadProfile('nope', dir), { name: 'UsageError', message: 'unknown profile "nope" (known: broken, good, wrong)' });
  // A name with a slash is the caller's file (relative to the cwd), never a walk out of the profiles' directory.
  await t.rejects(loadProfile('../good', dir), { name: 'UsageError', message: /^profile "good": cannot read .*\/good: no such file$/ });
  await t.rejects(loadProfile('x', join(dir, 'missing')), { message: 'unknown profile "x" (known: none)' });
});

t.test('an unknown name lists the known profiles on one line', async (t) => {
  const known = await listProfiles();
  await t.rejects(loadProfile('no-such-image'), { name: 'UsageError', message: `unknown profile "no-such-image" (known: ${known.join(', ')})` });
  try {
    await loadProfile('no-such-image');
  } catch (e) {
    for (const name of ['trixie', 'centos-bootc-stream9', 'centos-bootc-stream10', 'debian-bootc', 'snow']) {
      t.match((e as Error).message, name);
    }
    t.notMatch((e as Error).message, /\n/);
  }
});

t.test('a profile may leave the kernel open: no tier, any kernel (the generic profile)', async (t) => {
  const p = validateProfile(withKey('kernel.tier', undefined), 'open');
  t.same(p.kernel, {});
});
