// What an installer wrote into a disk's boot entries, read on the host from the disk file
// itself (no loop device, no mount): the installer's own record of what the machine will
// boot. For bootc's composefs backend that is the composefs=<digest> it put on the kernel
// command line, which tier 4 then compares with what the guest booted: an expectation
// that does not come from the guest.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { runSandboxed, type SandboxSpec } from '../util/sandbox.js';

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** The Boot Loader Specification's XBOOTLDR partition, and Linux filesystem data (an ext4 /boot). */
const BOOT_TYPES = ['BC13C2FF-59E6-4262-A352-B275FD6F7172', '0FC63DAF-8483-4772-8E3D-3D69E4779864'];

// What the installer wrote is parsed by host tools (sfdisk, mtools, debugfs, objcopy) in a
// sandbox (util/sandbox.ts) with these bounds: a crafted disk ends the run in one line.
/** GPT's usual entry count: a table listing more is not one an installer wrote. */
export const MAX_PARTITIONS = 128;
/** Boot entries read per directory: a real disk has a handful. */
const MAX_ENTRIES = 64;
const TOOL_MS = 30_000;
const TEXT_BYTES = 256 * 1024;
/** A UKI copied off the ESP to read its .cmdline: no larger than this. */
const UKI_BYTES = 512 * 1024 * 1024;

interface Partition {
  start: number;
  size: number;
  type: string;
}

/** Pure: the partitions of `sfdisk --json` output, with their offsets in bytes. */
export function partitionsOf(sfdiskJson: string): Partition[] {
  const t = (JSON.parse(sfdiskJson) as { partitiontable: { sectorsize?: number; partitions?: { start: number; size: number; type: string }[] } }).partitiontable;
  const sector = t.sectorsize ?? 512;
  return (t.partitions ?? []).map((p) => ({ start: p.start * sector, size: p.size * sector, type: String(p.type).toUpperCase() }));
}

/** Pure: the partitions a table lists, refused (one line) when they could not be on a disk of `diskBytes`. */
export function checkedPartitions(parts: readonly Partition[], diskBytes: number, disk: string): Partition[] {
  if (parts.length > MAX_PARTITIONS) throw new UsageError(`sfdisk on ${disk}: ${parts.length} partitions listed, more than ${MAX_PARTITIONS}: a crafted partition table`);
  for (const [i, p] of parts.entries()) {
    const ok = [p.start, p.size].every((n) => Number.isSafeInteger(n) && n >= 0) && p.start + p.size <= diskBytes;
    if (!ok) throw new UsageError(`sfdisk on ${disk}: partition ${i + 1} (offset ${p.start}, ${p.size} bytes) lies outside the ${diskBytes}-byte disk: a crafted partition table`);
  }
  return [...parts];
}

/** Pure: the composefs= values of boot entries' option lines or UKI command lines ("?" kept: verity waived). */
export function composefsArgs(texts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const text of texts) for (const m of text.matchAll(/(?:^|\s)composefs=(\??[0-9a-f]{64}(?:[0-9a-f]{64})?)(?=\s|$)/gm)) out.add(m[1]!);
  return [...out];
}

/** Boot entries (BLS .conf files) and UKI command lines on a disk file's ESP and /boot partitions,
 *  each file system read in place at its offset (nothing copied but a UKI, bounded). */
export async function bootEntryTexts(disk: string, signal?: AbortSignal): Promise<string[]> {
  // The offsets ride on the file name ("disk@@offset" for mtools, "disk?offset=" for debugfs).
  if (/[@?]/.test(disk)) throw new UsageError(`disk path ${JSON.stringify(disk)} contains @ or ?: mtools and debugfs read offsets from the name`);
  const tmp = mkdtempSync(join(tmpdir(), 'bh-boot-record-'));
  // The disk is the run's own 0600 file: its tools run as root's uid in a user namespace, no capabilities.
  const onDisk: SandboxSpec = { inputs: [disk], outputs: [tmp], user: 'root-in-userns', maxFileBytes: UKI_BYTES };
  const tool = (argv: string[], what: string, maxOutputBytes = TEXT_BYTES) =>
    runSandboxed(argv, onDisk, { stage: 'disk', what: `${what} on ${disk}`, timeoutMs: TOOL_MS, maxOutputBytes, ...(signal ? { signal } : {}) });
  const checked = async (argv: string[], what: string) => {
    const r = await tool(argv, what);
    if (r.exitCode !== 0) throw new UsageError(`${what} on ${disk} exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    return r.stdout;
  };
  const texts: string[] = [];
  try {
    const parts = checkedPartitions(partitionsOf(await checked(['sfdisk', '--json', disk], 'sfdisk')), statSync(disk).size, disk);
    for (const p of parts) {
      if (p.type === ESP_TYPE) {
        // mtools reads a FAT filesystem at a byte offset of the disk file ("file@@offset").
        const fat = `${disk}@@${p.start}`;
        for (const dir of ['::/loader/entries', '::/EFI/Linux']) {
          const ls = await tool(['mdir', '-b', '-i', fat, dir], 'mdir');
          if (ls.exitCode !== 0) continue;
          const names = ls.stdout.split('\n').map((l) => l.trim().replace(/^::\//, '/').split('/').pop()!).filter(Boolean).slice(0, MAX_ENTRIES);
          for (const name of names) {
            if (name.endsWith('.conf')) texts.push(await checked(['mtype', '-i', fat, `${dir}/${name}`], 'mtype'));
            else if (name.toLowerCase().endsWith('.efi')) texts.push(await ukiCmdline(fat, `${dir}/${name}`, join(tmp, `uki-${texts.length}.efi`), tool, checked));
          }
        }
      } else if (BOOT_TYPES.includes(p.type)) {
        // debugfs reads the ext4 file system in place: the unix I/O manager's offset= option.
        const fs = `${disk}?offset=${p.start}`;
        for (const dir of ['/loader/entries', '/boot/loader/entries']) {
          const ls = await tool(['debugfs', '-R', `ls -p ${dir}`, fs], 'debugfs');
          const names = ls.stdout.split('\n').map((l) => l.split('/')[5]).filter((n): n is string => !!n && n.endsWith('.conf') && !/\s/.test(n)).slice(0, MAX_ENTRIES);
          for (const n of names) texts.push((await tool(['debugfs', '-R', `cat ${dir}/${n}`, fs], 'debugfs')).stdout);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return texts;
}

type Tool = (argv: string[], what: string) => Promise<{ exitCode: number; stdout: string }>;

/** A unified kernel image's embedded command line: the .cmdline section, as data (never run). */
async function ukiCmdline(fat: string, path: string, local: string, tool: Tool, checked: (argv: string[], what: string) => Promise<string>): Promise<string> {
  await checked(['mcopy', '-n', '-i', fat, path, local], 'mcopy');
  const out = `${local}.cmdline`;
  const r = await tool(['objcopy', '-O', 'binary', '--only-section=.cmdline', local, out], 'objcopy');
  const text = r.exitCode === 0 ? (await readHead(out, TEXT_BYTES)).replace(/\0/g, '') : '';
  rmSync(local, { force: true });
  return text;
}

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

/** The first `max` bytes of a file the harness's own sandboxed tool wrote, as text. */
