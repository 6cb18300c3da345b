// The suites' judgements, each held to both sides with real guest outputs (captured from one
// boot of the composefs-pre-6.15 fixture, harness/test/guest-outputs/, and the failing side made
// in that guest: a SUID file and a capability under /var, an EROFS image one mode bit away from
// the booted one): a healthy guest passes, a guest made to break the check fails it, naming why.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bootcStatusMismatch,
  compareTreesScript,
  cryptsetupUnit,
  keyslotsOutsideTpm2,
  parseJournal,
  systemdEscape,
  unattendedUnlock,
  unlockJournalCommand,
  composefsImagePath,
  ext4Features,
  fsSupportsVerity,
  fsverityDigest,
  gainedPrivileges,
  getcapFailures,
  localPersistentMounts,
  lowerCandidates,
  lowerMismatch,
  parseErofsSuperblocks,
  parseFsverityDigest,
  parseGetcap,
  parseSetidFind,
  parseStatIds,
  parseTreeComparison,
  verityObjectsVerdict,
  zfsVermagicMismatch,
  zfsVersionMismatch,
} from '../src/index.js';
import { findMkcomposefs } from '../src/install/composefs-layout.js';
import { modinfoFields } from '../src/image/probe.js';
import { run } from '../src/util/exec.js';
import type { SpecialEntry } from '../src/image/manifest.js';

const out = (name: string) => readFileSync(join(import.meta.dirname, 'guest-outputs/composefs-pre-6.15', name), 'utf8');
const DIGEST = '70f41f0a65931e4e0ec4240d48f6258bef8a9769da23c7bd4cdbd6b6b563ecc0';

t.test('image.no-new-privileges scans every local persistent file system, by type', async (t) => {
  const mounts = localPersistentMounts(out('findmnt-target-fstype.txt'));
  // The composefs root, the physical root under it, and the bind mounts of /etc and /var; no proc, sysfs, tmpfs, cgroup...
  t.same([...mounts].sort(), ['/', '/etc', '/sysroot', '/var']);
  t.same(localPersistentMounts('/ ext4\n/mnt/my\\x20data xfs\n/srv/nfs nfs4\n/run tmpfs\n/boot/efi vfat\n'), ['/', '/mnt/my data', '/boot/efi'], 'a persistent fs anywhere counts; network and memory ones do not');
});

t.test('image.no-new-privileges: the healthy guest gained nothing; SUID and a capability under /var are named once', async (t) => {
  const source = (JSON.parse(out('manifest-special.json')) as { special: SpecialEntry[] }).special;
  const healthy = { setid: parseSetidFind(out('find-setid.txt')), caps: parseGetcap(out('getcap.txt')), ids: parseStatIds(out('stat-ids.txt')) };
  t.ok(healthy.setid.length >= 10 && healthy.caps.get('/usr/bin/ping') === 'cap_net_raw=ep', 'the real outputs parse');
  t.same(gainedPrivileges(source, healthy), [], 'every SUID/SGID file and capability is the source\'s');

  const capsGained = parseGetcap(out('getcap-gained-under-var.txt'));
  // The gained file's identity, as the spec reads it with stat: the same inode through /var and /sysroot.
  const ids = new Map([...healthy.ids, ['/var/lib/gained/env', '65026:11565'], ['/sysroot/state/os/default/var/lib/gained/env', '65026:11565']]);
  const gained = gainedPrivileges(source, { setid: parseSetidFind(out('find-setid-gained-under-var.txt')), caps: capsGained, ids });
  t.same(gained, [
    '/var/lib/gained/env (also /sysroot/state/os/default/var/lib/gained/env): mode 4755 in the guest, no SUID/SGID in the source',
    '/var/lib/gained/env (also /sysroot/state/os/default/var/lib/gained/env): cap_sys_admin=ep in the guest, none in the source',
  ]);
});

t.test('image.no-new-privileges: getcap exits 0 for a file it cannot read, so its stderr decides', async (t) => {
  t.same(getcapFailures(''), []);
  t.same(getcapFailures("Failed to get capabilities of file `/var/x' (Permission denied)\nFailed to get capabilities of file `/boot/efi/EFI/BOOT/BOOTX64.EFI' (Operation not supported)\n"), ["Failed to get capabilities of file `/var/x' (Permission denied)"], 'a read failure fails; a file system without xattrs has nothing to gain');
});

t.test('image.no-new-privileges: a bit the source set on another file, or a wider mode, is still a gain', async (t) => {
  const source: SpecialEntry[] = [{ path: '/usr/bin/sudo', mode: '4755', uid: 0, gid: 0 }, { path: '/usr/bin/chage', mode: '2755', uid: 0, gid: 42 }];
  const g = gainedPrivileges(source, { setid: parseSetidFind('1 2 6755 /usr/bin/chage\n1 3 4755 /usr/bin/sudo\n'), caps: new Map(), ids: new Map() });
  t.same(g, ['/usr/bin/chage: mode 6755 in the guest, 2755 in the source']);
});

t.test('composefs: the EROFS lower layer is the image whose tree is /\'s, and only that one', async (t) => {
  const sbs = parseErofsSuperblocks(out('erofs-superblocks.txt'));
  t.same(sbs, [{ name: 'erofs-1' }], 'a file-backed EROFS (6.12) names no backing file');
  t.same(lowerCandidates(sbs, DIGEST), [composefsImagePath(DIGEST)], 'so the candidate is the digest\'s image in the composefs repository');
  t.same(lowerCandidates([{ name: 'loop0', backingFile: '/sysroot/composefs/images/abc' }], DIGEST), ['/sysroot/composefs/images/abc', composefsImagePath(DIGEST)], 'a loop device\'s backing file comes first');

  const same = parseTreeComparison(out('compare-trees-digest-image.txt'));
  t.ok(same?.same, 'the booted image\'s tree is /\'s');
  t.equal(lowerMismatch(composefsImagePath(DIGEST), same!), undefined);

  const wrong = parseTreeComparison(out('compare-trees-wrong-image.txt'));
  t.notOk(wrong?.same, 'an image one mode bit away is not /\'s lower layer');
  t.match(lowerMismatch('/run/wrong.img', wrong!), /\/run\/wrong\.img is not the lower layer of \/[\s\S]*f 4755 0 0 56144 [\d.]+ \.\/usr\/bin\/env/);
  t.equal(parseTreeComparison('mount: /run/bh-lower.x: wrong fs type\n'), undefined, 'a script that could not mount compares nothing');
  t.match(lowerMismatch('/x', { rootEntries: 3, imageEntries: 3, same: true, diff: [] }), /only 3 entries/, 'an empty tree matches nothing');
});

t.test('the tree comparison prunes /\'s mount points and composefs\'s own whiteouts, on both sides', async (t) => {
  const s = compareTreesScript("/sysroot/composefs/images/it's", ['/', '/etc', '/var', '/my dir']);
  t.match(s, /-path '\.\/etc' -o -path '\.\/var' -o -path '\.\/my dir'/);
  t.match(s, /-path '\.\/\[0-9a-f\]\[0-9a-f\]' -type c/);
  t.match(s, /mount -t erofs -o ro '\/sysroot\/composefs\/images\/it'\\''s'/, 'the image path is quoted for the shell');
  t.match(s, /trap .*umount/, 'nothing stays mounted');
});

t.test('composefs.digest: the digest mkcomposefs prints is the fs-verity digest fsverity measures; another image measures otherwise', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-fsverity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tree/usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'tree/usr/bin/env'), 'not really env\n');
  chmodSync(join(dir, 'tree/usr/bin/env'), 0o755);
  const make = async (img: string) => (await run([findMkcomposefs(), '--print-digest', join(dir, 'tree'), join(dir, img)], { stage: 'suites' })).stdout.trim();
  const recorded = await make('good.img');
  t.equal(await fsverityDigest(join(dir, 'good.img')), recorded, 'measured = recorded');
  chmodSync(join(dir, 'tree/usr/bin/env'), 0o4755);
  await make('suid.img');
  t.not(await fsverityDigest(join(dir, 'suid.img')), recorded, 'an image with one SUID bit more measures another digest');
  t.equal(parseFsverityDigest(`sha256:${recorded} x`), recorded);
  t.equal(parseFsverityDigest('ERROR: bad'), undefined);
  await t.rejects(fsverityDigest(join(dir, 'missing.img')), /fsverity digest .*missing\.img exited/, 'a tool failure is an error, never a digest');
});

t.test('composefs.verity optional: asserts every object where the file system supports verity, fails on tool errors', async (t) => {
  const objects = '/sysroot/composefs/objects';
  const features = ext4Features(out('tune2fs-sysroot.txt'));
  t.match(features, /metadata_csum/);
  t.notOk(fsSupportsVerity('ext4', features), 'the fixture\'s ext4 has no verity feature');
  const listing = { exitCode: 0, stdout: out('lsattr-objects-head.txt'), stderr: '' };
  const noVerityFs = verityObjectsVerdict(objects, listing, 'ext4', features);
  t.same(noVerityFs.problems, []);
  t.match(noVerityFs.skip, /cannot carry fs-verity/, 'nothing to assert: skipped with the reason, not passed');
  const verityFs = verityObjectsVerdict(objects, listing, 'ext4', `${features} verity`);
  t.match(verityFs.problems.join('\n'), /20 of 20 objects .* lack fs-verity/, 'on a file system with verity, every object without it fails');
  t.equal(verityFs.skip, undefined);
  const withV = { exitCode: 0, stdout: listing.stdout.replace(/-e-/g, 'eV-').replace(/--------------e/g, '-------------Ve'), stderr: '' };
  t.same(verityObjectsVerdict(objects, withV, 'btrfs', '').problems, [], 'all objects with V pass');
  const missing = verityObjectsVerdict(objects, { exitCode: 1, stdout: '', stderr: out('find-lsattr-missing-dir.stderr') }, 'ext4', features);
  t.match(missing.problems.join('\n'), /failed \(exit 1\): find: .*No such file or directory/, 'a missing objects directory fails');
  const killed = verityObjectsVerdict(objects, { exitCode: 1, stdout: listing.stdout, stderr: "find: 'lsattr' terminated by signal 13" }, 'ext4', features);
  t.match(killed.problems.join('\n'), /failed \(exit 1\)/, 'a failed lsattr fails, even with some output');
  t.match(verityObjectsVerdict(objects, { exitCode: 0, stdout: '', stderr: '' }, 'ext4', features).problems.join('\n'), /holds no objects/);
});

t.test('image.bootc-status names the image under test by its manifest digest', async (t) => {
  // Shape: bootc's spec.rs (Host, HostStatus, BootEntry, ImageStatus; camelCase).
  const status = (digest: string, image = 'localhost/bootc-harness/fixture-snow:abc') =>
    JSON.stringify({ apiVersion: 'org.containers.bootc/v1', kind: 'BootcHost', spec: {}, status: { booted: { image: { image: { image, transport: 'containers-storage' }, imageDigest: digest, architecture: 'amd64' } } } });
  const ours = `sha256:${'a'.repeat(64)}`;
  t.equal(bootcStatusMismatch(status(ours), ours), undefined);
  t.match(bootcStatusMismatch(status(`sha256:${'b'.repeat(64)}`, 'quay.io/other/image:latest'), ours), /bootc booted containers-storage:quay\.io\/other\/image:latest@sha256:b+, not the image under test \(sha256:a+\)/);
  t.match(bootcStatusMismatch(JSON.stringify({ status: { booted: null } }), ours), /names no booted image/);
  t.match(bootcStatusMismatch(status(ours), undefined), /recorded no digest/, 'no record, no pass');
  t.match(bootcStatusMismatch('error: not booted via bootc', ours), /no JSON/);
});

t.test('zfs: the guest\'s module vermagic is the one the host read from the image', async (t) => {
  const image = '6.12.57+deb13-amd64 SMP preempt mod_unload modversions ';
  t.equal(zfsVermagicMismatch('6.12.57+deb13-amd64 SMP preempt mod_unload modversions\n', image, '6.12.57+deb13-amd64'), undefined);
  t.match(zfsVermagicMismatch('6.12.57+deb13-amd64 SMP preempt mod_unload\n', image, '6.12.57+deb13-amd64'), /the image's \(read on the host\)/, 'a module rebuilt in the guest is not the image\'s');
  t.match(zfsVermagicMismatch(image, image, '6.12.58+deb13-amd64'), /built for 6\.12\.57\+deb13-amd64, the guest runs 6\.12\.58/);
  t.match(zfsVermagicMismatch(image, undefined, '6.12.57+deb13-amd64'), /read no zfs module vermagic from the image/, 'no reading, no pass');
});

t.test('zfs: the guest\'s userland and loaded module are the version the host read from the image\'s module', async (t) => {
  // `zfs version` as the zfs fixture's zfsutils-linux prints it (userland line, then the loaded module's).
  const out = 'zfs-2.3.2-2\nzfs-kmod-2.3.2-2\n';
  t.equal(zfsVersionMismatch(out, '2.3.2-2\n', '2.3.2-2'), undefined);
  t.equal(zfsVersionMismatch('zfs-2.3.9-0+deb13u1\nzfs-kmod-2.3.9-0+deb13u1\n', '2.3.9-0+deb13u1\n', '2.3.9-0+deb13u1'), undefined, 'a Debian stable update\'s version');
  t.match(zfsVersionMismatch('zfs-2.3.1-1\nzfs-kmod-2.3.2-2\n', '2.3.2-2', '2.3.2-2'), /userland zfs-2\.3\.1-1 does not match the loaded module 2\.3\.2-2/);
  t.match(zfsVersionMismatch(out, '2.3.2-2', '2.3.3-1'), /the loaded zfs module is 2\.3\.2-2, the image's module \(read on the host\) 2\.3\.3-1/, 'a module that agrees with its userland but is not the image\'s fails');
  t.match(zfsVersionMismatch(out, '2.3.2-2', undefined), /read no zfs module version from the image/, 'no reading, no pass');
  t.match(zfsVersionMismatch(out, '', '2.3.2-2'), /not loaded/);
  t.match(zfsVersionMismatch('zfs-kmod-2.3.2-2\n', '2.3.2-2', '2.3.2-2'), /cannot read the userland version/, 'the kmod line is not the userland');
});

t.test('modinfo\'s listing read as fields: the zfs fixture\'s module as the host reads it', async (t) => {
  // modinfo(8) on the zfs fixture's updates/dkms/zfs.ko.xz (trixie, zfs-dkms 2.3.9-0+deb13u1), abridged.
  const listing = [
    'filename:       /tmp/bh-module-x/zfs.ko.xz',
    'version:        2.3.9-0+deb13u1',
    'license:        CDDL',
    'license:        Dual BSD/GPL',
    'author:         OpenZFS',
    'description:    ZFS',
    'depends:        spl',
    'vermagic:       6.12.117+deb13-amd64 SMP preempt mod_unload modversions ',
    'parm:           zfs_arc_min:Minimum ARC size limit, in bytes (ulong)',
  ].join('\n');
  const f = modinfoFields(listing);
  t.equal(f.get('version'), '2.3.9-0+deb13u1');
  t.equal(f.get('vermagic'), '6.12.117+deb13-amd64 SMP preempt mod_unload modversions', 'its trailing space dropped');
  t.equal(f.get('license'), 'CDDL', 'the first of a repeated field');
  t.equal(modinfoFields('').get('version'), undefined);
});

t.test('luks: an unattended TPM2 unlock is read off this boot\'s journal; a prompt or a fallback fails', async (t) => {
  const volume = 'luks-4b1f0c56-7d0e-4f5a-9a39-0a3c8f0e1d2b';
  const unit = 'systemd-cryptsetup@luks\\x2d4b1f0c56\\x2d7d0e\\x2d4f5a\\x2d9a39\\x2d0a3c8f0e1d2b.service';
  t.equal(cryptsetupUnit(volume), unit, 'the unit name systemd-cryptsetup-generator makes (systemd-escape)');
  t.equal(systemdEscape('my vol.1'), 'my\\x20vol.1');
  t.match(unlockJournalCommand(volume), /journalctl -b 0 -o json .*'UNIT=systemd-cryptsetup@luks\\x2d4b1f0c56/);
  // Fields as PID 1 logs a job's end (JOB_TYPE, JOB_RESULT, UNIT) and systemd-cryptsetup its
  // messages (src/cryptsetup/cryptsetup.c: the token plugin's success says nothing at info level).
  const started = { UNIT: unit, JOB_TYPE: 'start', JOB_RESULT: 'done', MESSAGE: 'Finished systemd-cryptsetup@luks\\x2d4b1f0c56.service - Cryptography Setup for luks-4b1f0c56.' };
  const lines = (...e: object[]) => e.map((x) => JSON.stringify(x)).join('\n');
  t.same(unattendedUnlock(parseJournal(lines({ UNIT: unit, MESSAGE: 'Starting systemd-cryptsetup@...' }, started)), volume).problems, []);
  t.match(unattendedUnlock(parseJournal(lines({ UNIT: 'systemd-fsck-root.service', JOB_TYPE: 'start', JOB_RESULT: 'done' })), volume).problems.join('\n'), /no finished systemd-cryptsetup@luks\\x2d4b1f0c56/, 'no unlock of this volume this boot fails');
  const prompted = parseJournal(lines(started, { UNIT: 'systemd-ask-password-console.service', JOB_TYPE: 'start', JOB_RESULT: 'done' }));
  t.match(unattendedUnlock(prompted, volume).problems.join('\n'), /a password was asked for this boot \(systemd-ask-password-console\.service started\)/);
  const fellBack = parseJournal(lines(started, { SYSLOG_IDENTIFIER: 'systemd-cryptsetup', _SYSTEMD_UNIT: unit, MESSAGE: 'TPM2 operation failed, falling back to traditional unlocking: Operation not permitted' }));
  t.match(unattendedUnlock(fellBack, volume).problems.join('\n'), /systemd-cryptsetup: TPM2 operation failed, falling back/);
  t.match(unattendedUnlock(parseJournal(lines({ ...started, JOB_RESULT: 'failed' })), volume).problems.join('\n'), /did not start successfully this boot \(job result failed\)/);
});

t.test('luks: the real journal of a luks-tpm2 boot, and of the boot after a reboot, shows an unattended unlock', async (t) => {
  const real = (name: string) => readFileSync(join(import.meta.dirname, 'guest-outputs/luks-tpm2', name), 'utf8');
  const volume = 'luks-d148c3cd-132c-4093-bf03-08611fe12709';
  for (const f of ['unlock-journal.json', 'unlock-journal-after-reboot.json']) {
    const v = unattendedUnlock(parseJournal(real(f)), volume);
    t.same(v.problems, [], `${f}: systemd-cryptsetup's unit finished, nothing asked`);
    t.match(v.evidence.join('\n'), /Finished systemd-cryptsetup@luks\\x2dd148c3cd/);
  }
  t.match(unattendedUnlock(parseJournal(real('unlock-journal.json')), 'luks-00000000-0000-0000-0000-000000000000').problems.join('\n'), /no finished/, 'another volume was not unlocked by that boot');
  t.same(keyslotsOutsideTpm2(real('luks-metadata.json')), [], 'the installer wiped the setup passphrase: the TPM2 token names the only keyslot');
});

t.test('luks: a keyslot the systemd-tpm2 token does not name is another way in', async (t) => {
  const meta = (tokenSlots: string[], slots: string[]) => JSON.stringify({ keyslots: Object.fromEntries(slots.map((s) => [s, { type: 'luks2' }])), tokens: { '0': { type: 'systemd-tpm2', keyslots: tokenSlots, 'tpm2-pcrs': [7] } } });
  t.same(keyslotsOutsideTpm2(meta(['1'], ['1'])), []);
  t.same(keyslotsOutsideTpm2(meta(['1'], ['0', '1'])), ['0'], 'a setup passphrase left behind');
});
