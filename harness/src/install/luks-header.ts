// What a bootc tpm2-luks install sealed the root to, read on the host from the LUKS2 header the
// installer wrote: its UUID and the PCRs of its systemd-tpm2 token. bootc's tpm2-luks runs
// `systemd-cryptenroll --tpm2-device=auto` with PCRs it chooses (crates/lib/src/install/
// baseline.rs), so the harness cannot know them in advance as the direct installer does; the
// header is the record, read before any boot and independently of the guest.
//
// No loop device, no dm: the LUKS2 binary header is read from the disk file at the partition's
// offset (the on-disk format, cryptsetup's docs/on-disk-format-luks2.pdf: magic "LUKS\xba\xbe",
// version u16 at 6, hdr_size u64 at 8, uuid[40] at 168; a secondary header follows at hdr_size),
// both headers are copied into a sparse file as long as the partition, and cryptsetup checks
// and dumps that copy (`luksDump --dump-json-metadata`), bounded by a deadline. cryptsetup
// parses data the image's installer wrote: `dumpLuksJson` runs it in the sandbox (util/sandbox.ts).
import { open } from 'node:fs/promises';
import { ftruncateSync, mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { runChecked } from '../util/exec.js';
import { runSandboxed } from '../util/sandbox.js';
import { partitionsOf } from './boot-record.js';

const MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
/** LUKS2 allows header sizes from 16 KiB to 4 MiB (on-disk format, "hdr_size"). */
const MAX_HDR = 4 * 1024 * 1024;
const DUMP_TIMEOUT_MS = 30_000;

export interface LuksBinaryHeader {
  version: number;
  hdrSize: number;
  uuid: string;
}

/** Pure: a LUKS2 binary header's fields, or undefined when `b` does not start with one. */
export function luksBinaryHeader(b: Buffer): LuksBinaryHeader | undefined {
  if (b.length < 208 || !b.subarray(0, 6).equals(MAGIC)) return undefined;
  const version = b.readUInt16BE(6);
  const hdrSize = Number(b.readBigUInt64BE(8));
  const uuid = b.subarray(168, 208).toString('latin1').replace(/\0.*$/s, '');
  if (version !== 2 || hdrSize < 16384 || hdrSize > MAX_HDR || hdrSize % 4096 !== 0) return undefined;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) return undefined;
  return { version, hdrSize, uuid };
}

/** Pure: the PCRs of each systemd-tpm2 token in `cryptsetup luksDump --dump-json-metadata`
 *  output, each as systemd-cryptenroll's --tpm2-pcrs spells them ("7", "0+7", '' for none). */
export function tpm2PcrsOf(dumpJson: string): string[] {
  const meta = JSON.parse(dumpJson) as { tokens?: Record<string, { type?: unknown; 'tpm2-pcrs'?: unknown }> };
  return Object.values(meta.tokens ?? {})
    .filter((t) => t.type === 'systemd-tpm2')
    .map((t) => {
      const pcrs = t['tpm2-pcrs'] ?? [];
      if (!Array.isArray(pcrs) || !pcrs.every((p) => Number.isInteger(p) && p >= 0 && p < 24)) throw new Error('a systemd-tpm2 token with malformed tpm2-pcrs');
      return (pcrs as number[]).join('+');
    });
}

/** cryptsetup's dump of a header copy: sandboxed (only the copy visible, no network), with a
 *  deadline and an output limit (a LUKS2 JSON area is at most a few MiB). */
async function dumpLuksJson(headerCopy: string, signal?: AbortSignal): Promise<string> {
  const what = 'cryptsetup luksDump on the installed root';
  const r = await runSandboxed(['cryptsetup', 'luksDump', '--dump-json-metadata', headerCopy], { inputs: [headerCopy], user: 'root-in-userns' }, { stage: 'disk', what, timeoutMs: DUMP_TIMEOUT_MS, maxOutputBytes: 2 * MAX_HDR, ...(signal ? { signal } : {}) });
  if (r.exitCode !== 0) throw new InfraError('disk', `${what} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

export interface SealedRoot {
  luksUuid: string;
  /** The PCRs the one systemd-tpm2 token is sealed to ('' for none). */
  luksPcrs: string;
}

/** The LUKS2 root on a disk file: its UUID and the PCRs its one systemd-tpm2 token is sealed to.
 *  Throws, naming what it found, when there is not exactly one LUKS2 partition with one such token. */
export async function sealedRootOf(disk: string, signal?: AbortSignal): Promise<SealedRoot> {
  const S = { stage: 'disk' as const, timeoutMs: DUMP_TIMEOUT_MS, ...(signal ? { signal } : {}) };
  const parts = partitionsOf((await runChecked(['sfdisk', '--json', disk], S)).stdout);
  const fh = await open(disk, 'r');
  const found: { start: number; size: number; header: LuksBinaryHeader; bytes: Buffer }[] = [];
  try {
    for (const p of parts) {
      const head = Buffer.alloc(4096);
      await fh.read(head, 0, head.length, p.start);
      const header = luksBinaryHeader(head);
      if (!header || 2 * header.hdrSize > p.size) continue;
      // Both headers, bounded by LUKS2's own maximum.
      const bytes = Buffer.alloc(2 * header.hdrSize);
      await fh.read(bytes, 0, bytes.length, p.start);
      found.push({ ...p, header, bytes });
    }
  } finally {
    await fh.close();
  }
  if (found.length !== 1) throw new Error(`the installed disk has ${found.length} LUKS2 partitions, expected one (the root)`);
  const [root] = found as [(typeof found)[number]];
  const tmp = mkdtempSync(join(tmpdir(), 'bh-luks-header-'));
  try {
    const copy = join(tmp, 'header');
    const fd = openSync(copy, 'wx', 0o600);
    try {
      writeSync(fd, root.bytes);
      // cryptsetup refuses a device smaller than the metadata and keyslot areas: as long as the
      // partition, sparse, costs nothing and holds no data.
      ftruncateSync(fd, root.size);
    } finally {
      closeSync(fd);
    }
    const pcrs = tpm2PcrsOf(await dumpLuksJson(copy, signal));
    if (pcrs.length !== 1) throw new Error(`the LUKS2 root ${root.header.uuid} has ${pcrs.length} systemd-tpm2 tokens, expected one`);
    return { luksUuid: root.header.uuid, luksPcrs: pcrs[0]! };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
