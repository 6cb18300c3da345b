// Before install, the image's own files answer what they can: the profile's SUID/SGID and
// capability paths (the image's manifest), its units enabled (links, aliases, presets, as
// systemd reads them), a ZFS module for the image's kernel, the kernel's compat tier. Each
// failure names what is missing and where it was looked for; what the profile does not ask
// for is skipped, saying why.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { presetEnables } from '../src/image/probe.js';
import { checkBeforeBoot, preChecks, type ImageFacts } from '../src/run/pre-checks.js';
import { enabledUnits } from '../src/image/probe.js';
import { validateProfile } from '../src/profile/profile.js';
import type { Manifest } from '../src/image/manifest.js';

const profile = validateProfile(
  {
    description: 'test',
    source: { fixture: 'trixie' },
    kernel: { tier: 'pre-6.15' },
    expect: { suid: ['/usr/bin/sudo'], caps: { '/usr/bin/ping': 'cap_net_raw=ep' }, enabledUnits: ['ssh.service'], zfs: true },
  },
  'test',
);
const manifest = (special: Manifest['special']): Manifest => ({ version: 1, special, owners: {}, hardlinks: [], counts: { files: 0, dirs: 0, symlinks: 0 } });
const good: ImageFacts = {
  manifest: manifest([
    { path: '/usr/bin/sudo', mode: '4755', uid: 0, gid: 0 },
    { path: '/usr/bin/ping', mode: '0755', uid: 0, gid: 0, caps: 'cap_net_raw=ep' },
  ]),
  kernelRelease: '6.12.117+deb13-amd64',
  enabledUnits: new Set(['ssh.service']),
  zfsVermagic: '6.12.117+deb13-amd64 SMP preempt mod_unload modversions',
};
const status = (facts: ImageFacts) => Object.fromEntries(preChecks(profile, facts).map((r) => [r.id, r.status]));
const errorOf = (facts: ImageFacts, id: string) => preChecks(profile, facts).find((r) => r.id === id)?.error ?? '';

t.test('an image with everything the profile asks for passes every pre check', async (t) => {
  t.same(status(good), { 'pre.setid': 'passed', 'pre.capabilities': 'passed', 'pre.enabled-units': 'passed', 'pre.kernel-tier': 'passed', 'pre.zfs-module': 'passed' });
  t.ok(preChecks(profile, good).every((r) => r.tier === 'pre'));
});

t.test('each missing thing fails its own check, naming it', async (t) => {
  t.match(errorOf({ ...good, manifest: manifest([{ path: '/usr/bin/ping', mode: '0755', uid: 0, gid: 0, caps: 'cap_net_raw=ep' }]) }, 'pre.setid'), /\/usr\/bin\/sudo: not SUID\/SGID in the image/);
  t.match(errorOf({ ...good, manifest: manifest([{ path: '/usr/bin/sudo', mode: '2755', uid: 0, gid: 0 }]) }, 'pre.setid'), '', 'SGID counts as set-id');
  t.equal(status({ ...good, manifest: manifest([{ path: '/usr/bin/sudo', mode: '2755', uid: 0, gid: 0 }, good.manifest.special[1]!]) })['pre.setid'], 'passed');
  t.match(errorOf({ ...good, manifest: manifest([good.manifest.special[0]!]) }, 'pre.capabilities'), /\/usr\/bin\/ping: the image has no capabilities, the profile requires cap_net_raw=ep/);
  t.match(errorOf({ ...good, enabledUnits: new Set() }, 'pre.enabled-units'), /ssh\.service is not enabled in the image/);
  t.match(errorOf({ ...good, kernelRelease: '6.1.0-40-amd64' }, 'pre.kernel-tier'), /6\.1\.0-40-amd64 is in compat tier rhel9, the profile expects pre-6\.15/);
  t.match(errorOf({ ...good, zfsVermagic: undefined }, 'pre.zfs-module'), /no zfs module for the image's kernel 6\.12\.117\+deb13-amd64/);
  t.match(errorOf({ ...good, zfsVermagic: '6.12.99+deb13-amd64 SMP' }, 'pre.zfs-module'), /built for 6\.12\.99\+deb13-amd64, the image's kernel is 6\.12\.117\+deb13-amd64/);
});

t.test('what the profile does not ask for is skipped, saying why', async (t) => {
  const none = validateProfile({ description: 'x', source: { fixture: 'trixie' }, kernel: {} }, 'none');
  const r = preChecks(none, { ...good, enabledUnits: new Set(), zfsVermagic: undefined });
  t.ok(r.every((x) => x.status === 'skipped' && (x.annotations?.[0]?.description ?? '').length > 0));
});

t.test('a failure stops the run with every result recorded', async (t) => {
  let recorded: unknown[] = [];
  const { manifest: _ignored, ...probe } = good;
  t.throws(() => checkBeforeBoot(profile, manifest([]), probe, (x) => (recorded = x)), /before install, the image's own files fail pre\.setid, pre\.capabilities/);
  t.equal(recorded.length, 5, 'all five results, passed and failed');
});

t.test('presets: first match wins, globs as systemd.preset(5)', async (t) => {
  const files = ['enable tailscaled.service\ndisable *\n', 'enable sshd.service\n'];
  t.ok(presetEnables(files, 'tailscaled.service'));
  t.notOk(presetEnables(files, 'sshd.service'), 'an earlier "disable *" wins');
  t.ok(presetEnables(['# comment\nenable zfs-*.service\n'], 'zfs-import-cache.service'));
  t.notOk(presetEnables([], 'x.service'));
});

t.test('enabled units as systemd reads them: .wants links, aliases, presets, not masks', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bh-pre-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const etc = join(root, 'etc/systemd/system');
  const lib = join(root, 'usr/lib/systemd/system');
  mkdirSync(join(etc, 'multi-user.target.wants'), { recursive: true });
  mkdirSync(join(lib, 'sockets.target.wants'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/systemd/system-preset'), { recursive: true });
  for (const u of ['ssh.service', 'tailscaled.service', 'masked.service', 'other.service']) writeFileSync(join(lib, u), '[Unit]\n');
  symlinkSync('/usr/lib/systemd/system/ssh.service', join(etc, 'multi-user.target.wants/ssh.service'));
  symlinkSync('/usr/lib/systemd/system/ssh.service', join(etc, 'sshd.service'));
  symlinkSync('/dev/null', join(etc, 'masked.service'));
  symlinkSync('../dbus.socket', join(lib, 'sockets.target.wants/dbus.socket'));
  writeFileSync(join(root, 'usr/lib/systemd/system-preset/90-default.preset'), 'enable tailscaled.service\ndisable *\n');
  const got = await enabledUnits(root);
  for (const u of ['ssh.service', 'sshd.service', 'tailscaled.service', 'dbus.socket']) t.ok(got.has(u), `${u} enabled`);
  t.notOk(got.has('masked.service'), 'a mask is not an alias');
  t.notOk(got.has('other.service'), 'a unit nothing enables');
});
