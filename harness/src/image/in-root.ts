// The one way the harness opens a path inside an image root. The image under test is
// untrusted: a link it ships must never lead out of it, a swap between a check and a use
// must not either, and a special file (a FIFO, a device node) must never be opened where a
// file is expected. So the path is walked component by component on open descriptors, never
// re-resolved by name: each component is opened with O_PATH|O_NOFOLLOW relative to the
// descriptor of its parent (Node has no openat: `/proc/self/fd/<dirfd>/<name>` is openat's
// lookup, the kernel resolving the magic link to the open directory itself). A symlink is
// read and its target walked again from the root's descriptor (absolute) or the parent's
// (relative); ".." pops the stack of open directories and stops at the root; at most 40
// links, as the kernel. O_PATH opens no device and waits on no FIFO: the type is checked with
// fstat on that descriptor, and only a regular file is reopened for reading, through
// `/proc/self/fd/<fd>` (the same inode, whatever the name now points to), with O_NONBLOCK.
// Writes never open an existing node: a fresh file is created O_EXCL beside it and renamed
// over it. Every call is asynchronous (libuv's pool): nothing here blocks the event loop.
//
// Chosen over a helper running openat2(RESOLVE_IN_ROOT): no binary to build and ship, and the
// same guarantee (every lookup is relative to a descriptor already checked, no name is
// resolved twice).
import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, open, readdir, readlink, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * The image holds something the harness refuses to use: a special file where a file or a
 * directory is expected, a link loop, a file too large. Exit 2, as bad input: the run stops
 * before anything about the image was judged, so it is not a failed assertion (exit 1, a
 * verdict on the image) but input the harness will not consume; the one line names the path.
 */
export class ImageError extends UsageError {
  override name = 'ImageError';
}

/** Kept for callers that name the link case. */
export class OutsideRoot extends ImageError {
  override name = 'OutsideRoot';
}

/** Linux follows at most 40 links in one lookup. */
const MAX_LINKS = 40;
/** open(2)'s O_PATH (x86_64, aarch64): a descriptor that names an inode without opening it. */
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_NOCTTY, O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = constants;
/** Default cap for texts read from an image (configs, os-release, presets). */
export const TEXT_CAP = 1024 * 1024;

const at = (fh: FileHandle, name?: string) => `/proc/self/fd/${fh.fd}${name === undefined ? '' : `/${name}`}`;
const parts = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');
const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Pure: what a stat or directory entry is (both answer the same is*() questions). */
function typeOf(x: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice' | 'isSocket'>): RootEntry['type'] {
  if (x.isFile()) return 'file';
  if (x.isDirectory()) return 'dir';
  if (x.isSymbolicLink()) return 'symlink';
  if (x.isFIFO()) return 'fifo';
  if (x.isCharacterDevice()) return 'char';
  if (x.isBlockDevice()) return 'block';
  if (x.isSocket()) return 'socket';
  return 'unknown';
}

const KIND_WORDS: Record<RootEntry['type'], string> = {
  file: 'a regular file',
  dir: 'a directory',
  symlink: 'a symlink',
  fifo: 'a FIFO',
  char: 'a character device',
  block: 'a block device',
  socket: 'a socket',
  unknown: 'a special file',
};

/** Pure: what an lstat-like mode is, in words for a refusal. */
export function kindOf(st: Stats): string {
  return KIND_WORDS[typeOf(st)];
}

interface Found {
  /** The open directories from the root to the final component's parent (the root first). */
  dirs: FileHandle[];
  /** The path walked, inside the root ("/" joined). */
  names: string[];
  /** The final component's name in dirs' last; undefined for the root itself. */
  name?: string;
  /** O_PATH descriptor of the final component and its fstat; absent when it does not exist. */
  fh?: FileHandle;
  st?: Stats;
  /** Components after a missing directory `name` (the lookup stopped there). */
  rest?: string[];
}

function closeAll(f: Found | undefined, keepRoot = false): Promise<unknown> {
  if (!f) return Promise.resolve();
  const hs = [...(keepRoot ? f.dirs.slice(1) : f.dirs), ...(f.fh ? [f.fh] : [])];
  return Promise.all(hs.map((h) => h.close().catch(() => undefined)));
}

/**
 * Walks `path` inside `root`. Returns undefined when a directory on the way is missing (or is
 * not a directory); a missing final component gives `fh` undefined. `create`: mkdir the
 * missing directories on the way (mode), as mkdir -p would inside the root.
 */
async function walk(root: string, path: string, opts: { followFinal: boolean; create?: number }): Promise<Found | undefined> {
  // The root itself is the harness's own choice (a buildah mountpoint, a work dir): opened by name once.
  let rootFh: FileHandle;
  try {
    rootFh = await open(root, O_PATH | O_DIRECTORY);
  } catch (e) {
    if (code(e) === 'ENOENT' && opts.create === undefined) return undefined; // no root: nothing in it
    throw e;
  }
  const f: Found = { dirs: [rootFh], names: [] };
  let pending = parts(path);
  let links = 0;
  try {
    while (pending.length) {
      const name = pending.shift()!;
      if (name === '..') {
        if (f.dirs.length > 1) {
          await f.dirs.pop()!.close();
          f.names.pop();
        }
        continue;
      }
      const last = pending.length === 0;
      const dir = f.dirs[f.dirs.length - 1]!;
      let fh: FileHandle;
      try {
        fh = await open(at(dir, name), O_PATH | O_NOFOLLOW);
      } catch (e) {
        if (code(e) !== 'ENOENT') throw e;
        if (opts.create === undefined) return { ...f, name, ...(last ? {} : { rest: pending }) };
        try {
          await mkdir(at(dir, name), { mode: opts.create });
        } catch (e2) {
          if (code(e2) !== 'EEXIST') throw e2;
        }
        pending.unshift(name); // opened (and type-checked) again on the next turn
        continue;
      }
      const st = await fh.stat();
      if (st.isSymbolicLink() && (!last || opts.followFinal)) {
        await fh.close();
        if (++links > MAX_LINKS) throw new OutsideRoot(`${path} in the image: too many levels of symbolic links`);
        let target: string;
        try {
          target = await readlink(at(dir, name));
        } catch {
          throw new ImageError(`${path} in the image changed while it was being opened (a link swapped): refusing it`);
        }
        if (target.startsWith('/')) {
          await Promise.all(f.dirs.splice(1).map((h) => h.close()));
          f.names.length = 0;
        }
        pending = [...parts(target), ...pending];
        continue;
      }
      if (last) return { ...f, name, fh, st };
      if (!st.isDirectory()) {
        await fh.close();
        if (opts.create !== undefined) throw new ImageError(`/${[...f.names, name].join('/')} in the image is ${kindOf(st)}, expected a directory`);
        return (await closeAll(f), undefined); // as the kernel's ENOTDIR: nothing there
      }
      f.dirs.push(fh);
      f.names.push(name);
    }
    return f; // the root itself
  } catch (e) {
    await closeAll(f);
    throw e;
  }
}

/** Where `path` leads inside the root ("/…", every link followed inside it), or undefined when it does not exist. */
export async function whereInRoot(root: string, path: string, opts: { followFinal?: boolean; whereMissing?: boolean } = {}): Promise<string | undefined> {
  const f = await walk(root, path, { followFinal: opts.followFinal ?? true });
  if (!f) return undefined;
  await closeAll(f);
  if (f.name !== undefined && !f.fh && !opts.whereMissing) return undefined;
  // Where it would be: the missing rest taken as written (".." lexically, never above the root).
  const out = [...f.names, ...(f.name !== undefined ? [f.name] : [])];
  for (const c of f.rest ?? []) if (c === '..') out.length > 0 && out.pop(); else out.push(c);
  return `/${out.join('/')}`;
}

/** fstat of what `path` names inside the root (a final link followed inside it unless followFinal is false), or undefined. */
export async function statInRoot(root: string, path: string, opts: { followFinal?: boolean } = {}): Promise<Stats | undefined> {
  const f = await walk(root, path, { followFinal: opts.followFinal ?? true });
  if (!f) return undefined;
  await closeAll(f);
  return f.name === undefined ? undefined : f.st;
}

/** True when `path` is a regular file in the image (links followed inside it). */
export async function isFileInRoot(root: string, path: string): Promise<boolean> {
  return (await statInRoot(root, path))?.isFile() ?? false;
}

/** The final component opened for reading: only a regular file, reopened from its O_PATH descriptor with O_NONBLOCK. */
async function openRegular(f: Found, path: string): Promise<FileHandle> {
  if (!f.st!.isFile()) throw new ImageError(`${path} in the image is ${kindOf(f.st!)}, expected a regular file: refusing to read it`);
  const fh = await open(at(f.fh!), O_RDONLY | O_NONBLOCK | O_NOCTTY);
  const st = await fh.stat();
  // The same inode as the one checked: /proc/self/fd/N names the descriptor, not a path.
  if (st.ino !== f.st!.ino || st.dev !== f.st!.dev || !st.isFile()) {
    await fh.close();
    throw new ImageError(`${path} in the image changed while it was being opened: refusing it`);
  }
  return fh;
}

/**
 * A regular file's bytes from the image, or undefined when it does not exist. Anything but a
 * regular file is refused (ImageError naming the path); so is a file over `maxBytes`, unless
 * `head` asks for its first maxBytes only.
 */
export async function readFileInRoot(root: string, path: string, opts: { maxBytes?: number; head?: boolean } = {}): Promise<Buffer | undefined> {
  const max = opts.maxBytes ?? TEXT_CAP;
  const f = await walk(root, path, { followFinal: true });
  if (!f?.fh) return (await closeAll(f), undefined);
  try {
    const fh = await openRegular(f, path);
    try {
      if (f.st!.size > max && !opts.head) throw new ImageError(`${path} in the image is ${f.st!.size} bytes, more than the ${max} the harness reads`);
      const buf = Buffer.alloc(max + 1);
      let n = 0;
      while (n < buf.length) {
        const r = await fh.read(buf, n, buf.length - n, n);
        if (r.bytesRead === 0) break;
        n += r.bytesRead;
      }
      if (n > max && !opts.head) throw new ImageError(`${path} in the image grew past the ${max} bytes the harness reads`);
      return buf.subarray(0, Math.min(n, max));
    } finally {
      await fh.close();
    }
  } finally {
    await closeAll(f);
  }
}

/** A text file from the image (UTF-8), or undefined when it does not exist; see readFileInRoot. */
export async function readTextInRoot(root: string, path: string, maxBytes = TEXT_CAP): Promise<string | undefined> {
  return (await readFileInRoot(root, path, { maxBytes }))?.toString('utf8');
}

export interface RootEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket' | 'unknown';
  /** A symlink's target as written (never followed). */
  link?: string;
}

/**
 * A directory's entries (name order), or undefined when it does not exist. The directory is
 * reached through links inside the root; a non-directory there is refused (ImageError).
 * Entries are named, typed and (links) read, never followed.
 */
export async function listDirInRoot(root: string, path: string): Promise<RootEntry[] | undefined> {
  const f = await walk(root, path, { followFinal: true });
  if (!f) return undefined;
  try {
    const dir = f.name === undefined ? f.dirs[0]! : f.fh;
    if (!dir) return undefined;
    if (f.st && !f.st.isDirectory()) throw new ImageError(`${path} in the image is ${kindOf(f.st)}, expected a directory`);
    const out: RootEntry[] = [];
    for (const d of (await readdir(at(dir), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const e: RootEntry = { name: d.name, type: typeOf(d) };
      if (e.type === 'symlink') e.link = await readlink(at(dir, d.name)).catch(() => undefined);
      out.push(e);
    }
    return out;
  } finally {
    await closeAll(f);
  }
}

/** mkdir -p inside the root: each component walked in the root, so no link leads out; a non-directory on the way is refused. */
export async function mkdirInRoot(root: string, path: string, mode: number): Promise<void> {
  const f = await walk(root, path, { followFinal: true, create: mode });
  await closeAll(f);
  if (f?.st && !f.st.isDirectory()) throw new ImageError(`${path} in the image is ${kindOf(f.st)}, expected a directory`);
}

/**
 * Writes a file inside the root. The parent is walked in the root (links followed inside it);
 * an existing final entry must be a regular file (anything else is refused, naming the path);
 * the bytes go to a new file created O_EXCL beside it, renamed over it: no existing node (a
 * FIFO, a device swapped in meanwhile) is ever opened for writing.
 */
export async function writeFileInRoot(root: string, path: string, data: string | Buffer, mode: number): Promise<void> {
  const f = await walk(root, path, { followFinal: false });
  if (!f || f.name === undefined || f.rest) {
    await closeAll(f);
    throw new ImageError(`${path}: its directory is missing in the image`);
  }
  try {
    if (f.st && !f.st.isFile()) throw new ImageError(`${path} in the image is ${kindOf(f.st)}, expected a regular file: refusing to write it`);
    const dir = f.dirs[f.dirs.length - 1]!;
    const tmp = `.bh-${randomBytes(6).toString('hex')}`;
    const out = await open(at(dir, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, mode);
    try {
      await out.writeFile(data);
      await out.chmod(mode);
    } catch (e) {
      await unlink(at(dir, tmp)).catch(() => undefined);
      throw e;
    } finally {
      await out.close();
    }
    await rename(at(dir, tmp), at(dir, f.name)).catch(async (e: unknown) => {
      await unlink(at(dir, tmp)).catch(() => undefined);
      throw e;
    });
  } finally {
    await closeAll(f);
  }
}

/** Removes a file inside the root, never through a link (unlink does not follow its last component). */
export async function removeFileInRoot(root: string, path: string): Promise<void> {
  const f = await walk(root, path, { followFinal: false });
  if (!f?.fh || f.name === undefined) return void (await closeAll(f));
  try {
    if (f.st!.isDirectory()) throw new ImageError(`${path} in the image is a directory, expected a file to remove`);
    await unlink(at(f.dirs[f.dirs.length - 1]!, f.name)).catch((e) => {
      if (code(e) !== 'ENOENT') throw e;
    });
  } finally {
    await closeAll(f);
  }
}

/** Changes a directory's mode inside the root, never through a link, on the inode that was checked. */
export async function chmodDirInRoot(root: string, path: string, mode: number): Promise<void> {
  const f = await walk(root, path, { followFinal: true });
  if (!f) throw new ImageError(`${path}: missing in the image`);
  try {
    const dir = f.name === undefined ? f.dirs[0]! : f.fh;
    if (!dir) throw new ImageError(`${path}: missing in the image`);
    if (f.st && !f.st.isDirectory()) throw new ImageError(`${path} in the image is ${kindOf(f.st)}, expected a directory`);
    await chmod(at(dir), mode);
  } finally {
    await closeAll(f);
  }
}

/**
 * Copies a regular file out of the image to `dest` (a new file, 0600, that must not exist):
 * what a host tool (cp, mcopy, QEMU's -kernel, sqlite3) then reads is the harness's copy,
 * never a name in the image. Refuses anything but a regular file, and more than maxBytes.
 * Returns false when the file does not exist.
 */
export async function copyFileOutOfRoot(root: string, path: string, dest: string, maxBytes: number): Promise<boolean> {
  const f = await walk(root, path, { followFinal: true });
  if (!f?.fh) return (await closeAll(f), false);
  try {
    const fh = await openRegular(f, path);
    try {
      if (f.st!.size > maxBytes) throw new ImageError(`${path} in the image is ${f.st!.size} bytes, more than the ${maxBytes} the harness copies`);
      const out = await open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        const buf = Buffer.alloc(1 << 20);
        let total = 0;
        for (;;) {
          const r = await fh.read(buf, 0, buf.length, total);
          if (r.bytesRead === 0) break;
          total += r.bytesRead;
          if (total > maxBytes) throw new ImageError(`${path} in the image grew past the ${maxBytes} bytes the harness copies`);
          await out.write(buf, 0, r.bytesRead);
        }
      } finally {
        await out.close();
      }
    } finally {
      await fh.close();
    }
    return true;
  } finally {
    await closeAll(f);
  }
}

/**
 * Every entry under `path` in the root (relative to the root, without a leading "/"), walked
 * on descriptors; links are entries, never followed. `path` itself must be a directory.
 */
export async function walkTreeInRoot(root: string, path: string): Promise<{ rel: string; type: RootEntry['type'] }[]> {
  const start = await whereInRoot(root, path, { followFinal: false });
  const st = start ? await statInRoot(root, start, { followFinal: false }) : undefined;
  if (!start || !st) throw new ImageError(`${path}: missing in the image`);
  if (!st.isDirectory()) throw new ImageError(`${path} in the image is ${kindOf(st)}, expected a directory`);
  const out: { rel: string; type: RootEntry['type'] }[] = [{ rel: start.slice(1), type: 'dir' }];
  const stack = [start];
  while (stack.length) {
    const dir = stack.pop()!;
    // A directory swapped for a link meanwhile is walked inside the root, never out of it.
    for (const e of (await listDirInRoot(root, dir)) ?? []) {
      const rel = `${dir.slice(1)}/${e.name}`;
      out.push({ rel, type: e.type });
      if (e.type === 'dir') stack.push(`/${rel}`);
    }
  }
  return out;
}
