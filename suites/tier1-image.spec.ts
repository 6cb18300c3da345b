// Tier 1: what the image is made of survived packaging and installation: every
// SUID/SGID bit, file capability and security xattr of the source is in the guest.
import { bootcStatusMismatch, gainedPrivileges, getcapFailures, localPersistentMounts, parseGetcap, parseSetidFind, parseStatIds, type Machine, type SpecialEntry } from '../harness/src/index.js';
import { test, expect, sq } from './machine.js';

const isSetId = (mode: string) => (parseInt(mode, 8) & 0o6000) !== 0;

/** path -> "mode uid gid" in the guest; missing paths are absent from the map. */
async function guestStat(machine: Machine, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (paths.length === 0) return out;
  const r = await machine.exec(`stat -c '%a %u %g %n' -- ${paths.map(sq).join(' ')}`);
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [mode, uid, gid, ...name] = line.split(' ');
    out.set(name.join(' '), `${mode!.padStart(4, '0')} ${uid} ${gid}`);
  }
  return out;
}

/** path -> capability text in the guest ("cap_net_raw=ep"). */
async function guestCaps(machine: Machine, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (paths.length === 0) return out;
  const has = await machine.exec('command -v getcap');
  expect(has.exitCode, 'the guest needs getcap (libcap2-bin) to check file capabilities').toBe(0);
  const r = await machine.exec(`getcap -- ${paths.map(sq).join(' ')}`);
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const m = /^(\S+)\s+(?:= )?(\S+)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!.replace(/\+/, '='));
  }
  return out;
}

test.describe('image', { tag: '@tier1' }, () => {
  test('image.setid-bits', async ({ machine, manifest }) => {
    const entries = manifest.special.filter((e: SpecialEntry) => isSetId(e.mode));
    expect(entries.length, 'the source manifest lists SUID/SGID files').toBeGreaterThan(0);
    const got = await guestStat(machine, entries.map((e) => e.path));
    const losses = entries
      .map((e) => ({ e, g: got.get(e.path) }))
      .filter(({ e, g }) => g !== `${e.mode.padStart(4, '0')} ${e.uid} ${e.gid}`)
      .map(({ e, g }) => `${e.path}: want ${e.mode} ${e.uid}:${e.gid}, guest has ${g ?? 'no such file'}`);
    expect(losses, 'SUID/SGID bits lost between source and guest').toEqual([]);
  });

  test('image.file-capabilities', async ({ machine, manifest }) => {
    const entries = manifest.special.filter((e: SpecialEntry) => e.caps);
    test.skip(entries.length === 0, 'the source has no file capabilities');
    const got = await guestCaps(machine, entries.map((e) => e.path));
    const owners = await guestStat(machine, entries.map((e) => e.path));
    const losses = entries.filter((e) => got.get(e.path) !== e.caps).map((e) => `${e.path}: want ${e.caps}, guest has ${got.get(e.path) ?? 'none'}`);
    // A capability on a file that changed hands is not the file the source shipped.
    const moved = entries
      .filter((e) => owners.get(e.path)?.split(' ').slice(1).join(':') !== `${e.uid}:${e.gid}`)
      .map((e) => `${e.path}: owner want ${e.uid}:${e.gid}, guest has ${owners.get(e.path)?.split(' ').slice(1).join(':') ?? 'no such file'}`);
    expect([...losses, ...moved], 'file capabilities (and their files\' owners) lost between source and guest').toEqual([]);
  });

  test('image.no-new-privileges', async ({ machine, manifest }) => {
    // An image that gains privileges is as wrong as one that loses them: every SUID/SGID file
    // and file capability on every local persistent file system of the guest must be one the
    // source gave that file (a bit set at boot under /var counts as much as one under /usr).
    const mounts = localPersistentMounts(await machine.succeed('findmnt -rn -o TARGET,FSTYPE'));
    expect(mounts, 'the guest has a local persistent root file system to scan').toContain('/');
    const roots = mounts.map(sq).join(' ');
    const setid = await machine.exec(`find ${roots} -xdev -type f -perm /6000 -printf '%D %i %m %p\\n'`, 300_000);
    expect(setid.exitCode, `find failed looking for SUID/SGID files (exit ${setid.exitCode}): ${setid.stderr.trim().split('\n').slice(0, 3).join('; ')}`).toBe(0);
    const has = await machine.exec('command -v getcap');
    expect(has.exitCode, 'the guest needs getcap (libcap2-bin) to look for file capabilities').toBe(0);
    // find's status covers getcap's too (-exec ... +: any failed invocation makes find exit non-zero).
    const caps = await machine.exec(`find ${roots} -xdev -type f -exec getcap -- {} +`, 600_000);
    expect(caps.exitCode, `getcap failed looking for file capabilities (exit ${caps.exitCode}): ${caps.stderr.trim().split('\n').slice(0, 3).join('; ')}`).toBe(0);
    // getcap exits 0 even for a file it could not read: its stderr says so.
    expect(getcapFailures(caps.stderr), 'files getcap could not read (their capabilities are unknown)').toEqual([]);
    const capsFound = parseGetcap(caps.stdout);
    // Device and inode of the source's special paths in the guest: a bind mount shows a file twice.
    const idPaths = [...new Set([...manifest.special.map((e: SpecialEntry) => e.path), ...capsFound.keys()])];
    const ids = idPaths.length ? parseStatIds((await machine.exec(`stat -c '%d %i %n' -- ${idPaths.map(sq).join(' ')}`)).stdout) : new Map<string, string>();
    test.info().annotations.push({ type: 'scanned', description: mounts.join(' ') });
    const gained = gainedPrivileges(manifest.special, { setid: parseSetidFind(setid.stdout), caps: capsFound, ids });
    expect(gained, 'privileges the source did not give').toEqual([]);
  });

  test('image.security-xattrs', async ({ machine, manifest }) => {
    const entries = manifest.special.filter((e: SpecialEntry) => e.xattrs && Object.keys(e.xattrs).length > 0);
    test.skip(entries.length === 0, 'the source has no security.* xattrs besides capabilities');
    const losses: string[] = [];
    for (const e of entries) {
      for (const [name, value] of Object.entries(e.xattrs!)) {
        const r = await machine.exec(`getfattr --absolute-names -e hex -n ${sq(name)} -- ${sq(e.path)}`);
        const m = new RegExp(`^${name.replace(/\./g, '\\.')}=(\\S+)$`, 'm').exec(r.stdout);
        if (m?.[1] !== value) losses.push(`${e.path}: ${name} want ${value}, guest has ${m?.[1] ?? 'none'}`);
      }
    }
    expect(losses, 'security xattrs lost between source and guest').toEqual([]);
  });

  test('image.profile-setid', async ({ machine, profile }) => {
    test.skip(profile.expect.suid.length === 0, 'the profile requires no SUID/SGID files');
    const got = await guestStat(machine, profile.expect.suid);
    const missing = profile.expect.suid.filter((p) => !got.has(p) || !isSetId(got.get(p)!.split(' ')[0]!)).map((p) => `${p} (${got.get(p) ?? 'no such file'})`);
    expect(missing, 'files the profile requires to be SUID/SGID').toEqual([]);
  });

  test('image.profile-capabilities', async ({ machine, profile }) => {
    const want = Object.entries(profile.expect.caps);
    test.skip(want.length === 0, 'the profile requires no file capabilities');
    const got = await guestCaps(machine, want.map(([p]) => p));
    const missing = want.filter(([p, c]) => got.get(p) !== c).map(([p, c]) => `${p}: want ${c}, guest has ${got.get(p) ?? 'none'}`);
    expect(missing, 'file capabilities the profile requires').toEqual([]);
  });

  test('image.usr-readonly', async ({ machine, profile }) => {
    test.skip(!profile.expect.readonlyUsr, 'the profile does not expect a read-only /usr');
    // Read-only means the filesystem refuses (EROFS), not that something else went wrong.
    const r = await machine.exec('touch /usr/.bootc-harness-write-test');
    expect(r.exitCode, '/usr must not be writable').not.toBe(0);
    expect(r.stderr, `the write must fail because /usr is read-only (EROFS), not: ${r.stderr.trim()}`).toMatch(/Read-only file system/);
  });

  test('image.bootc-status', async ({ machine, profile, run }) => {
    test.skip(!profile.expect.bootc, 'the profile does not expect bootc in the image');
    // bootc's record of the booted image must be the image under test, by its manifest digest.
    expect(bootcStatusMismatch(await machine.succeed('bootc status --json'), run.imageDigest), 'bootc status names the image under test').toBeUndefined();
  });
});
