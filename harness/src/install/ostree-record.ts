// What bootc's ostree backend deployed, read on the host from the installed disk as data: each
// deployment's commit and the composefs image ostree wrote for it (`.ostree.cfs`, the EROFS
// ostree-prepare-root mounts as /'s lower layer when prepare-root.conf enables composefs:
// ostreedev/ostree src/libostree/ostree-sysroot-deploy.c ostree_repo_checkout_composefs ->
// OSTREE_COMPOSEFS_NAME; src/libotcore/otcore-prepare-root.c lcfs_mount_image). Its SHA-256 and
// fs-verity digests are the independent record tier 4 holds the booted root to: computed here,
// never asked of the guest.
//
// Read without a loop device or mount: debugfs opens the root filesystem at its offset in the
// disk file (e2fsprogs' unix io manager option `?offset=`), lists /ostree/deploy and dumps each
// `.ostree.cfs` after checking its size. An encrypted root (tpm2-luks) cannot be read on the
// host: no record then, said by the caller.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runChecked } from '../util/exec.js';
import { partitionsOf } from './boot-record.js';

const BLOCK = 4096;
/** An EROFS of metadata only: tens of MiB for a large OS; more is not an image ostree wrote. */
const MAX_CFS_BYTES = 512 * 1024 * 1024;
const TOOL_TIMEOUT_MS = 60_000;
const LINUX_DATA_TYPES = new Set(['0FC63DAF-8483-4772-8E3D-3D69E4779864', '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709']);

/** Linux fs-verity's file digest (SHA-256, 4096-byte blocks, no salt) of the bytes `read` yields
 *  in order: the Merkle tree root hash in an fsverity_descriptor, hashed (kernel
 *  Documentation/filesystems/fsverity.rst, "File digest computation"). */
export async function fsverityDigest(size: number, readBlock: (offset: number, buf: Buffer) => Promise<number>): Promise<string> {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest();
  let level: Buffer[] = [];
  const buf = Buffer.alloc(BLOCK);
  for (let off = 0; off < size; off += BLOCK) {
    buf.fill(0);
    const n = await readBlock(off, buf);
    if (n <= 0) throw new Error(`short read at ${off} of ${size}`);
    level.push(sha(buf));
  }
  let root: Buffer = Buffer.alloc(32);
  // A file of one block has no tree: its root hash is that block's hash.
  if (level.length === 1) root = level[0]!;
  else if (level.length) {
    // Pack each level's hashes into zero-padded blocks and hash them, until one block remains.
    for (;;) {
      const per = BLOCK / 32;
      const blocks: Buffer[] = [];
      for (let i = 0; i < level.length; i += per) {
        const b = Buffer.alloc(BLOCK);
        Buffer.concat(level.slice(i, i + per)).copy(b);
        blocks.push(b);
      }
      if (blocks.length === 1) {
        root = sha(blocks[0]!);
        break;
      }
      level = blocks.map(sha);
    }
  }
  const desc = Buffer.alloc(256);
  desc.writeUInt8(1, 0); // version
  desc.writeUInt8(1, 1); // FS_VERITY_HASH_ALG_SHA256
  desc.writeUInt8(12, 2); // log2(4096)
  desc.writeUInt8(0, 3); // salt size
  desc.writeBigUInt64LE(BigInt(size), 8);
  root.copy(desc, 16);
  return sha(desc).toString('hex');
}

export interface OstreeDeployment {
  stateroot: string;
  /** `<commit>.<serial>`, the directory under /ostree/deploy/<stateroot>/deploy. */
  deployment: string;
  commit: string;
  /** The composefs image ostree wrote for it; absent when ostree wrote none (composefs off). */
  composefsImage?: { path: string; size: number; sha256: string; fsverity: string };
}

/** Pure: names of `debugfs -R "ls -p DIR"` output (`/inode/mode/uid/gid/name/size/`), without . and .. */
export function debugfsNames(out: string, dirsOnly = false): string[] {
  return out
    .split('\n')
    .map((l) => l.split('/'))
    .filter((f) => f.length >= 7 && f[5] !== '.' && f[5] !== '..' && f[5] !== '' && (!dirsOnly || f[2]!.startsWith('04')))
    .map((f) => f[5]!);
}

/** The ostree deployments on an installed disk file, or undefined when no partition holds /ostree/deploy. */
export async function ostreeDeploymentsOf(disk: string, signal?: AbortSignal): Promise<OstreeDeployment[] | undefined> {
  const S = { stage: 'disk' as const, timeoutMs: TOOL_TIMEOUT_MS, ...(signal ? { signal } : {}) };
  const parts = partitionsOf((await runChecked(['sfdisk', '--json', disk], S)).stdout).filter((p) => LINUX_DATA_TYPES.has(p.type));
  const tmp = mkdtempSync(join(tmpdir(), 'bh-ostree-record-'));
  try {
    for (const p of parts) {
      const fs = `${disk}?offset=${p.start}`;
      const ls = async (dir: string) => debugfsNames((await run(['debugfs', '-R', `ls -p ${dir}`, fs], S)).stdout, true);
      const roots = await ls('/ostree/deploy');
      if (!roots.length) continue;
      const out: OstreeDeployment[] = [];
      for (const stateroot of roots.filter((n) => /^[\w.-]+$/.test(n))) {
        for (const deployment of (await ls(`/ostree/deploy/${stateroot}/deploy`)).filter((n) => /^[0-9a-f]{64}\.\d+$/.test(n))) {
          const path = `/ostree/deploy/${stateroot}/deploy/${deployment}/.ostree.cfs`;
          const image = await readCfs(fs, path, join(tmp, `${deployment}.cfs`), S);
          out.push({ stateroot, deployment, commit: deployment.split('.')[0]!, ...(image ? { composefsImage: { path, ...image } } : {}) });
        }
      }
      return out;
    }
    return undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** One `.ostree.cfs` dumped (after its size is checked) and digested; undefined when absent. */
async function readCfs(fs: string, path: string, local: string, S: { stage: 'disk'; timeoutMs: number; signal?: AbortSignal }) {
  const st = await run(['debugfs', '-R', `stat ${path}`, fs], S);
  const type = /Type:\s*(\w+)/.exec(st.stdout)?.[1];
  if (type === undefined) return undefined;
  const size = Number(/Size:\s*(\d+)/.exec(st.stdout)?.[1]);
  if (type !== 'regular') throw new Error(`${path} on the installed disk is a ${type}, not the composefs image ostree writes`);
  if (!Number.isSafeInteger(size) || size > MAX_CFS_BYTES) throw new Error(`${path} on the installed disk claims ${size} bytes: not a composefs image (at most ${MAX_CFS_BYTES})`);
  await runChecked(['debugfs', '-R', `dump ${path} ${local}`, fs], S);
  const fh = await open(local, 'r');
  try {
    if ((await fh.stat()).size !== size) throw new Error(`${path}: debugfs dumped ${(await fh.stat()).size} bytes of ${size}`);
    const hash = createHash('sha256');
    const fsverity = await fsverityDigest(size, async (offset, buf) => {
      const { bytesRead } = await fh.read(buf, 0, Math.min(BLOCK, size - offset), offset);
      hash.update(buf.subarray(0, bytesRead));
      return bytesRead;
    });
    return { size, sha256: hash.digest('hex'), fsverity };
  } finally {
    await fh.close();
  }
}
