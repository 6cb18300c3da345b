// A directory source's cache key: what it holds (its manifest: paths, modes, owners, xattrs,
// capabilities, link targets) and every entry's identity: inode, size, mtime and ctime. A
// content change moves mtime; a chmod, chown, setcap or setfattr moves ctime; a file replaced
// (a build writing a new tree) gets a new inode. Contents are never read: hashing 500 MB on
// every run would cost what packaging costs. Entries are read with lstat inside the tree only.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from './manifest.js';

/** Every entry of the tree as "path inode size mtime ctime", sorted, hashed. */
export function treeIdentity(root: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path), { bigint: true });
      hash.update(`${path}\0${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}\n`);
      // lstat: a symlink to a directory is an entry, never followed out of the tree.
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return hash.digest('hex');
}

/** Pure: the image key of a directory, from its manifest and its tree identity. */
export function dirImageKey(manifest: Manifest, identity: string): string {
  return createHash('sha256').update(JSON.stringify(manifest)).update('\0').update(identity).digest('hex').slice(0, 16);
}
