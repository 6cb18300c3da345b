// What an installer wrote into a disk's boot entries, read on the host from the disk file
// itself (no loop device, no mount): the installer's own record of what the machine will
// boot. For bootc's composefs backend that is the composefs=<digest> it put on the kernel
// command line, which tier 4 then compares with what the guest booted: an expectation
// that does not come from the guest.
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runChecked } from '../util/exec.js';

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** The Boot Loader Specification's XBOOTLDR partition, and Linux filesystem data (an ext4 /boot). */
const BOOT_TYPES = ['BC13C2FF-59E6-4262-A352-B275FD6F7172', '0FC63DAF-8483-4772-8E3D-3D69E4779864'];

interface Partition {
  start: number;
  size: number;
  type: string;
}

/** Pure: the partitions of `sfdisk --json` output, with their offsets in bytes. */
export function partitionsOf(sfdiskJson: string): Partition[] {
  const t = (JSON.parse(sfdiskJson) as { partitiontable: { sectorsize?: number; partitions?: { start: number; size: number; type: string }[] } }).partitiontable;
  const sector = t.sectorsize ?? 512;
  return (t.partitions ?? []).map((p) => ({ start: p.start * sector, size: p.size * sector, type: p.type.toUpperCase() }));
}

/** Pure: the composefs= values of boot entries' option lines or UKI command lines ("?" kept: verity waived). */
export function composefsArgs(texts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const text of texts) for (const m of text.matchAll(/(?:^|\s)composefs=(\??[0-9a-f]{64}(?:[0-9a-f]{64})?)(?=\s|$)/gm)) out.add(m[1]!);
  return [...out];
}

/** Boot entries (BLS .conf files) and UKI command lines on a disk file's ESP and /boot partitions. */
export async function bootEntryTexts(disk: string, signal?: AbortSignal): Promise<string[]> {
  const S = { stage: 'disk' as const, ...(signal ? { signal } : {}) };
  const parts = partitionsOf((await runChecked(['sfdisk', '--json', disk], S)).stdout);
  const texts: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'bh-boot-record-'));
  try {
    for (const p of parts) {
      if (p.type === ESP_TYPE) {
        // mtools reads a FAT filesystem at a byte offset of the disk file ("file@@offset").
        const fat = `${disk}@@${p.start}`;
        for (const dir of ['::/loader/entries', '::/EFI/Linux']) {
          const ls = await run(['mdir', '-b', '-i', fat, dir], S);
          if (ls.exitCode !== 0) continue;
          for (const f of ls.stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
            const name = f.replace(/^::\//, '/').split('/').pop()!;
            if (name.endsWith('.conf')) texts.push((await runChecked(['mtype', '-i', fat, `${dir}/${name}`], S)).stdout);
            else if (name.toLowerCase().endsWith('.efi')) texts.push(await ukiCmdline(fat, `${dir}/${name}`, join(tmp, name), signal));
          }
        }
      } else if (BOOT_TYPES.includes(p.type)) {
        // debugfs reads an ext4 image file; the partition is copied out sparsely first.
        const img = join(tmp, `part-${p.start}.img`);
        await runChecked(['dd', `if=${disk}`, `of=${img}`, 'bs=1M', `skip=${p.start}`, `count=${p.size}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none'], S);
        for (const dir of ['/loader/entries', '/boot/loader/entries']) {
          const ls = await run(['debugfs', '-R', `ls -p ${dir}`, img], S);
          const names = ls.stdout.split('\n').map((l) => l.split('/')[5]).filter((n): n is string => !!n && n.endsWith('.conf'));
          for (const n of names) texts.push((await run(['debugfs', '-R', `cat ${dir}/${n}`, img], S)).stdout);
        }
        rmSync(img, { force: true });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return texts;
}

/** A unified kernel image's embedded command line: the .cmdline section, as data (never run). */
async function ukiCmdline(fat: string, path: string, local: string, signal?: AbortSignal): Promise<string> {
  const S = { stage: 'disk' as const, ...(signal ? { signal } : {}) };
  await runChecked(['mcopy', '-n', '-i', fat, path, local], S);
  const out = `${local}.cmdline`;
  const r = await run(['objcopy', '-O', 'binary', '--only-section=.cmdline', local, out], S);
  return r.exitCode === 0 ? (await readHead(out, CMDLINE_CAP)).replace(/\0/g, '') : '';
}

/** A command line is a few KiB; a crafted UKI's .cmdline section is read no further than this. */
const CMDLINE_CAP = 64 * 1024;

/** The first `max` bytes of a file the tool wrote from the disk, read asynchronously. */
async function readHead(path: string, max: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The one composefs digest the installer put in the disk's boot entries; undefined when it put none or several. */
export async function installedComposefsDigest(disk: string, signal?: AbortSignal): Promise<{ digest?: string; found: string[] }> {
  const found = composefsArgs(await bootEntryTexts(disk, signal));
  const digests = [...new Set(found.map((f) => f.replace(/^\?/, '')))];
  return { ...(digests.length === 1 ? { digest: digests[0] } : {}), found };
}
