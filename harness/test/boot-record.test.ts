// The installer's own record of what a disk boots is read from the disk file on the host:
// the composefs= digest in the boot entries bootc wrote (on the ESP, or on an ext4 /boot),
// never from the guest. Real disks here: sfdisk, mkfs.vfat and mke2fs write them, the
// reader goes through mtools and debugfs at byte offsets (no loop device, no mount).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkedPartitions, composefsArgs, installedComposefsDigest, MAX_PARTITIONS, partitionsOf } from '../src/install/boot-record.js';

const D1 = 'a'.repeat(64);
const D2 = 'b'.repeat(64);
const MiB = 1024 * 1024;

function gptDisk(dir: string, parts: { type: string; sizeMiB: number }[]): string {
  const disk = join(dir, 'disk.raw');
  execFileSync('truncate', ['-s', `${2 + parts.reduce((n, p) => n + p.sizeMiB, 0) + 1}M`, disk]);
  const script = 'label: gpt\n' + parts.map((p) => `size=${p.sizeMiB}MiB, type=${p.type}`).join('\n') + '\n';
  execFileSync('sfdisk', ['--quiet', disk], { input: script });
  return disk;
}

t.test('pure: partitions with byte offsets; composefs= values from entries, "?" kept', async (t) => {
  const parts = partitionsOf(JSON.stringify({ partitiontable: { sectorsize: 512, partitions: [{ start: 2048, size: 4096, type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' }] } }));
  t.same(parts, [{ start: 2048 * 512, size: 4096 * 512, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' }]);
  t.same(composefsArgs([`title x\noptions root=UUID=1 composefs=?${D1} rw`, `options composefs=${D2}`]), [`?${D1}`, D2]);
  t.same(composefsArgs([`options xcomposefs=${D1}`, 'options composefs=nothex']), [], 'look-alikes are not the argument');
});

t.test('a BLS entry on the ESP names the digest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-boot-record-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const disk = gptDisk(dir, [{ type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', sizeMiB: 40 }]);
  const offset = 1 * MiB;
  execFileSync('mkfs.vfat', ['-F', '32', `--offset=${offset / 512}`, disk, String((40 * MiB) / 1024)], { stdio: 'ignore' });
  const fat = `${disk}@@${offset}`;
  execFileSync('mmd', ['-i', fat, '::/loader', '::/loader/entries']);
  writeFileSync(join(dir, 'e.conf'), `title bootc\nlinux /x/vmlinuz\noptions root=UUID=1 rw composefs=?${D1}\n`);
  execFileSync('mcopy', ['-i', fat, join(dir, 'e.conf'), '::/loader/entries/bootc-1.conf']);
  t.same(await installedComposefsDigest(disk), { digest: D1, found: [`?${D1}`] });
});

t.test('entries on an ext4 /boot; two digests are no single record', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-boot-record-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const disk = gptDisk(dir, [{ type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', sizeMiB: 34 }, { type: '0FC63DAF-8483-4772-8E3D-3D69E4779864', sizeMiB: 16 }]);
  const src = join(dir, 'boot');
  mkdirSync(join(src, 'loader/entries'), { recursive: true });
  writeFileSync(join(src, 'loader/entries/a.conf'), `options composefs=${D1}\n`);
  writeFileSync(join(src, 'loader/entries/b.conf'), `options composefs=${D2}\n`);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, '-E', `offset=${(1 + 34) * MiB}`, disk, '16M'], { stdio: 'ignore' });
  const r = await installedComposefsDigest(disk);
  t.same(r.found.sort(), [D1, D2], 'both entries read off the ext4 partition');
  t.equal(r.digest, undefined, 'two digests: the installer recorded no single one');
});

t.test('a disk with no boot entries records nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-boot-record-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const disk = gptDisk(dir, [{ type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', sizeMiB: 40 }]);
  execFileSync('mkfs.vfat', ['-F', '32', `--offset=${MiB / 512}`, disk, String((40 * MiB) / 1024)], { stdio: 'ignore' });
  t.same(await installedComposefsDigest(disk), { found: [] });
});

// libfdisk itself already reads a GPT whose header claims more than the file holds as its
// protective MBR only (tried: a table truncated 60 MiB short lists one 'ee' partition); the
// check below is the harness's own bound on what any table may list, whatever sfdisk accepts.
t.test('pure: a table is refused when its partitions could not be on the disk, or are too many', async (t) => {
  const p = (start: number, size: number) => ({ start, size, type: 'X' });
  t.same(checkedPartitions([p(MiB, 10 * MiB)], 12 * MiB, 'd'), [p(MiB, 10 * MiB)], 'inside the disk: kept');
  t.throws(() => checkedPartitions([p(MiB, 10 * MiB), p(11 * MiB, 1024 * 1024 * MiB)], 12 * MiB, '/w/disk.raw'), /^sfdisk on \/w\/disk\.raw: partition 2 \(offset 11534336, 1099511627776 bytes\) lies outside the 12582912-byte disk/, 'a partition past the end: one line naming sfdisk, the disk and the partition');
  t.throws(() => checkedPartitions([p(-512, 512)], 12 * MiB, 'd'), /partition 1/, 'a negative offset');
  t.throws(() => checkedPartitions(Array.from({ length: MAX_PARTITIONS + 1 }, () => p(0, 0)), 12 * MiB, 'd'), /129 partitions listed, more than 128/);
});
