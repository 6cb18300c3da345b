// A directory source's cache key: what it holds (its manifest: paths, modes, owners, xattrs,
// capabilities, link targets) and every entry's identity: inode, size, mtime, ctime, mode and
// owner, the root directory's own included. A content change moves mtime; a chmod, chown,
// setcap or setfattr moves ctime; a file replaced (a build writing a new tree) gets a new
// inode. Contents are never read: hashing 500 MB on every run would cost what packaging costs.
// Entries are read with lstat inside the tree only. Where stat fields can be stale (a network
// or FUSE file system: another machine, or a daemon, answers them from a cache), the identity
// cannot be trusted: treeIdentityOf says which file system, and the caller skips the cache.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, statfsSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from './manifest.js';

/** statfs(2) f_type of file systems whose stat fields can be stale (linux/magic.h). */
export const STALE_STAT_FS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'NFS'],
  [0x01021997, '9p'],
  [0x65735546, 'FUSE (virtiofs, sshfs, …)'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x517b, 'SMB'],
  [0x00c36400, 'Ceph'],
  [0x47504653, 'GPFS'],
  [0x0bd00bd0, 'Lustre'],
  [0x5346414f, 'AFS'],
]);

/** Pure: the name of a file system type whose stat can be stale, or undefined. */
export function staleStatFs(fsType: number | bigint): string | undefined {
  return STALE_STAT_FS.get(Number(fsType));
}

const line = (path: string, st: BigIntStats) => `${path}\0${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs} ${st.mode} ${st.uid} ${st.gid}\n`;

/** Every entry of the tree (the root itself first) as "path inode size mtime ctime mode uid gid", sorted, hashed; and
 *  the first file system in it whose stat fields can be stale. */
export function treeIdentityOf(root: string): { identity: string; staleFs?: string } {
  const hash = createHash('sha256');
  const seenDevs = new Set<bigint>();
  let staleFs: string | undefined;
  const checkFs = (path: string, st: BigIntStats) => {
    if (seenDevs.has(st.dev)) return;
    seenDevs.add(st.dev);
    staleFs ??= staleStatFs(statfsSync(path, { bigint: true }).type);
  };
  const top = lstatSync(root, { bigint: true });
  hash.update(line('.', top));
  checkFs(root, top);
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path), { bigint: true });
      hash.update(line(path, st));
      // lstat: a symlink to a directory is an entry, never followed out of the tree.
      if (st.isDirectory()) {
        checkFs(join(root, path), st); // a mount inside the tree
        walk(path);
      }
    }
  };
  walk('');
  return { identity: hash.digest('hex'), ...(staleFs ? { staleFs } : {}) };
}

/** The identity alone (see treeIdentityOf). */
export function treeIdentity(root: string): string {
  return treeIdentityOf(root).identity;
}

/** Pure: the image key of a directory, from its manifest and its tree identity. */
export function dirImageKey(manifest: Manifest, identity: string): string {
  return createHash('sha256').update(JSON.stringify(manifest)).update('\0').update(identity).digest('hex').slice(0, 16);
}
