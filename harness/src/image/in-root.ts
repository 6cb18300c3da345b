// Paths inside an image root, resolved the way the kernel's openat2(RESOLVE_IN_ROOT)
// does: every symlink, absolute or relative, is followed against the image root, and
// ".." never climbs above it. The image under test is untrusted: a link it ships must
// never make the harness read or write a host file.
import { closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, readlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/** Linux follows at most 40 links in one lookup. */
const MAX_LINKS = 40;

export class OutsideRoot extends UsageError {
  override name = 'OutsideRoot';
}

/**
 * The host path of `path` inside `root`, with every symlink resolved inside the root.
 * `followFinal: false` leaves a final symlink itself (as O_NOFOLLOW or lstat would).
 * Missing components are allowed (the result names where they would be).
 */
export function resolveInRoot(root: string, path: string, opts: { followFinal?: boolean } = {}): string {
  const followFinal = opts.followFinal ?? true;
  let pending = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === '..') {
      done.pop(); // at the root, ".." is the root
      continue;
    }
    const here = join(root, ...done, name);
    const st = lstatSync(here, { throwIfNoEntry: false });
    const last = pending.length === 0;
    if (st?.isSymbolicLink() && (!last || followFinal)) {
      if (++links > MAX_LINKS) throw new OutsideRoot(`${path}: too many levels of symbolic links in the image`);
      const target = readlinkSync(here);
      if (target.startsWith('/')) done.length = 0; // an absolute link means the image's root
      pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
      continue;
    }
    done.push(name);
  }
  return join(root, ...done);
}

/** mkdir -p inside the root: each component resolved in the root, so no link leads out. */
export function mkdirInRoot(root: string, path: string, mode: number): string {
  const parts = path.split('/').filter((c) => c !== '' && c !== '.');
  let at = '';
  for (const p of parts) {
    at = `${at}/${p}`;
    const host = resolveInRoot(root, at);
    const st = lstatSync(host, { throwIfNoEntry: false });
    // A link may name a place the image lacks: made inside the image (no component of it exists to be a link).
    if (!st) mkdirSync(host, { mode, recursive: true });
    else if (!st.isDirectory()) throw new OutsideRoot(`${at} in the image is not a directory`);
  }
  return resolveInRoot(root, path);
}

/**
 * Writes a file inside the root: the parent is resolved in the root and the file is
 * opened with O_NOFOLLOW, so neither a linked directory nor a linked file leads out.
 */
export function writeFileInRoot(root: string, path: string, data: string | Buffer, mode: number): string {
  const slash = path.lastIndexOf('/');
  const parent = resolveInRoot(root, path.slice(0, slash) || '/');
  const host = join(parent, path.slice(slash + 1));
  let fd: number;
  try {
    fd = openSync(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new OutsideRoot(`${path} in the image is a symlink: refusing to write through it`);
    throw e;
  }
  try {
    if (typeof data === 'string') writeSync(fd, data);
    else writeSync(fd, data);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
  return host;
}

/** Changes a directory's mode inside the root, never through a link. */
export function chmodDirInRoot(root: string, path: string, mode: number): void {
  const host = resolveInRoot(root, path);
  const fd = openSync(host, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
