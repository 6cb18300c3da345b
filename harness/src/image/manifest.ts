// The metadata manifest of a rootfs: everything `cp -a`/`buildah commit` could silently
// drop (SUID/SGID bits, file capabilities, security xattrs, owners, hardlinks), taken
// from a directory tree so the source and the committed image can be compared.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import { runTreeReader, runTreeReaderChecked, TREE_TOOL_MS } from '../util/sandbox.js';

export interface SpecialEntry {
  path: string;
  mode: string;
  uid: number;
  gid: number;
  caps?: string;
  xattrs?: Record<string, string>;
}

export interface Manifest {
  version: 1;
  special: SpecialEntry[];
  owners: Record<string, string>;
  hardlinks: string[][];
  counts: { files: number; dirs: number; symlinks: number };
}

export interface ManifestLoss {
  path: string;
  what: string;
}

/** Top-level dirs whose contents are kernel-provided at runtime, never image content. */
const SKIP_CONTENTS = new Set(['/proc', '/sys', '/dev']);
/** Directories read at once; lstat calls queue in libuv's pool anyway. */
const WALK_CONCURRENCY = 16;
const CAP_XATTR = 'security.capability';
const SET_ID_BITS = [[0o4000, 'setuid'], [0o2000, 'setgid']] as const;

interface Node {
  path: string; // absolute inside the rootfs
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  inode: string; // dev:ino as text: overlay inode numbers can exceed 2^53
}

export async function takeManifest(rootDir: string): Promise<Manifest> {
  const root = path.resolve(rootDir);
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new UsageError(`rootfs ${rootDir} is not a directory`);
  const nodes = await walk(root);
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const xattrs = await readSecurityXattrs(root, byPath);
  const caps = await readCaps(root, [...xattrs].filter(([, x]) => CAP_XATTR in x).map(([p]) => p));

  const special: SpecialEntry[] = [];
  const owners: Record<string, string> = {};
  const links = new Map<string, string[]>();
  const counts = { files: 0, dirs: 0, symlinks: 0 };
  for (const n of nodes) {
    counts[n.kind === 'file' ? 'files' : n.kind === 'dir' ? 'dirs' : 'symlinks']++;
    if (n.uid !== 0 || n.gid !== 0) owners[n.path] = `${n.uid}:${n.gid}`;
    if (n.kind === 'file' && n.nlink > 1) links.set(n.inode, [...(links.get(n.inode) ?? []), n.path]);

    const sec = { ...xattrs.get(n.path) };
    delete sec[CAP_XATTR]; // reported as `caps`, in readable form
    const cap = caps.get(n.path);
    const setid = n.kind !== 'symlink' && (n.mode & 0o6000) !== 0;
    if (!setid && !cap && Object.keys(sec).length === 0) continue;
    const entry: SpecialEntry = { path: n.path, mode: octal(n.mode), uid: n.uid, gid: n.gid };
    if (cap) entry.caps = cap;
    if (Object.keys(sec).length) entry.xattrs = sortKeys(sec);
    special.push(entry);
  }

  special.sort((a, b) => cmp(a.path, b.path));
  const hardlinks = [...links.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort(cmp))
    .sort((a, b) => cmp(a[0], b[0]));
  return { version: 1, special, owners: sortKeys(owners), hardlinks, counts };
}

/** Every node under root (root itself as "/"), without following symlinks. */
async function walk(root: string): Promise<Node[]> {
  const nodes: Node[] = [await statNode(root, '/')];
  const queue = ['/'];
  let active = 0;

  const visit = async (dir: string): Promise<void> => {
    const abs = absPath(root, dir);
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (err) {
      throw new InfraError('image', `cannot read directory ${abs}: ${(err as Error).message}`, { cause: err });
    }
    const children = await Promise.all(names.map((name) => statNode(root, path.posix.join(dir, name))));
    for (const child of children) {
      nodes.push(child);
      if (child.kind === 'dir' && !SKIP_CONTENTS.has(child.path)) queue.push(child.path);
    }
  };

  // A small work queue instead of recursion, so at most WALK_CONCURRENCY dirs are open.
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const pump = (): void => {
      if (failed) return;
      if (queue.length === 0 && active === 0) return resolve();
      while (active < WALK_CONCURRENCY && queue.length) {
        active++;
        visit(queue.pop()!).then(
          () => { active--; pump(); },
          (err) => { failed = true; reject(err); },
        );
      }
    };
    pump();
  });
  return nodes;
}

async function statNode(root: string, p: string): Promise<Node> {
  const abs = absPath(root, p);
  try {
    const st = await lstat(abs, { bigint: true });
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    return { path: p, kind, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink), inode: `${st.dev}:${st.ino}` };
  } catch (err) {
    throw new InfraError('image', `cannot lstat ${abs}: ${(err as Error).message}`, { cause: err });
  }
}

/** getfattr and getcap read the image's tree: sandboxed as readers of it (util/sandbox.ts), with
 *  a deadline and a bound on what they print (a line per file that carries a security.* xattr). */
const MAX_LISTING = 256 * 2 ** 20;

/**
 * security.* xattrs of every node, from two getfattr runs instead of one per file: a
 * recursive one over the top-level entries (so /proc, /sys, /dev contents are never
 * walked) and a flat one for the root and those skipped dirs themselves.
 */
async function readSecurityXattrs(root: string, nodes: Map<string, Node>): Promise<Map<string, Record<string, string>>> {
  const top = [...nodes.values()].filter((n) => n.path !== '/' && path.posix.dirname(n.path) === '/');
  const recursive = top.filter((n) => !SKIP_CONTENTS.has(n.path)).map((n) => absPath(root, n.path));
  const flat = [root, ...top.filter((n) => SKIP_CONTENTS.has(n.path)).map((n) => absPath(root, n.path))];
  const base = ['getfattr', '-P', '-h', '-d', '-m', '^security\\.', '-e', 'hex', '--absolute-names'];

  const out = new Map<string, Record<string, string>>();
  for (const argv of [[...base, ...flat], ...(recursive.length ? [[...base, '-R', ...recursive]] : [])]) {
    // latin1 keeps raw bytes; getfattr's octal escapes are decoded to bytes, then UTF-8.
    const r = await runTreeReader(argv, { inputs: [root] }, { stage: 'image', encoding: 'latin1', timeoutMs: TREE_TOOL_MS, maxOutputBytes: MAX_LISTING, what: `getfattr on ${root}` });
    // Non-zero with nothing but "no attributes"/"not supported" just means none here.
    const errors = r.stderr.split('\n').filter((l) => l.trim() && !/No such attribute|Operation not supported/.test(l));
    if (r.exitCode !== 0 && errors.length) {
      throw new InfraError('image', `getfattr on ${root} exited ${r.exitCode}: ${errors.slice(-6).join('\n')}`);
    }
    for (const [abs, attrs] of parseGetfattr(r.stdout)) {
      const p = relPath(root, abs);
      if (!nodes.has(p)) throw new InfraError('image', `getfattr reported ${abs}, which the walk of ${root} did not see`);
      out.set(p, attrs);
    }
  }
  return out;
}

/** Parses `getfattr -d -e hex` output: "# file: PATH" then "name=0x…" lines. */
function parseGetfattr(latin1: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of latin1.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = {};
      out.set(unescapeGetfattr(line.slice('# file: '.length)), current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      current[unescapeGetfattr(line.slice(0, eq))] = line.slice(eq + 1);
    }
  }
  return out;
}

/** getfattr writes "\ooo" for newlines, backslashes and other unsafe bytes. */
function unescapeGetfattr(latin1: string): string {
  const bytes = latin1.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** File capabilities in getcap text form, from one getcap run over the files that carry one. */
async function readCaps(root: string, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (paths.length === 0) return out;
  const byAbs = new Map(paths.map((p) => [absPath(root, p), p]));
  const r = await runTreeReaderChecked(['getcap', ...byAbs.keys()], { inputs: [root] }, { stage: 'image', timeoutMs: TREE_TOOL_MS, maxOutputBytes: MAX_LISTING, what: `getcap on ${root}` });
  // Match known paths rather than splitting on a space: paths may contain spaces.
  const longestFirst = [...byAbs.keys()].sort((a, b) => b.length - a.length);
  for (const line of r.stdout.split('\n')) {
    const abs = longestFirst.find((a) => line.startsWith(`${a} `));
    if (abs) out.set(byAbs.get(abs)!, normaliseCaps(line.slice(abs.length + 1)));
  }
  return out;
}

/** Old libcap prints "= cap_net_raw+ep" (clear all, then add); newer prints "cap_net_raw=ep". */
function normaliseCaps(text: string): string {
  const t = text.trim();
  if (!t.startsWith('= ')) return t;
  return t.slice(2).trim().split(/\s+/).map((clause) => (/^[^=+-]+\+[a-z]+$/.test(clause) ? clause.replace('+', '=') : clause)).join(' ');
}

/**
 * What the target lost or changed relative to the source. Extra special entries or
 * xattrs in the target are not losses (a booted system may gain labels); owners are
 * compared for every non-root owner in the source and for the source's special paths.
 */
export function diffManifest(source: Manifest, target: Manifest): ManifestLoss[] {
  const losses: ManifestLoss[] = [];
  const lose = (p: string, what: string): void => { losses.push({ path: p, what }); };
  const targetSpecial = new Map(target.special.map((e) => [e.path, e]));

  for (const s of source.special) {
    const t = targetSpecial.get(s.path);
    const sMode = parseInt(s.mode, 8);
    const tMode = t ? parseInt(t.mode, 8) : 0; // absent from target.special: no set-id bits there
    const lost = SET_ID_BITS.filter(([b]) => sMode & b && !(tMode & b)).map(([, name]) => name);
    const bits = `${lost.join(' and ')} bit${lost.length > 1 ? 's' : ''} lost`;
    if (!t) {
      if (lost.length) lose(s.path, `${bits} (mode ${s.mode} -> path missing or without setuid/setgid)`);
    } else if (lost.length) {
      lose(s.path, `${bits} (mode ${s.mode} -> ${t.mode})`);
    } else if (t.mode !== s.mode) {
      lose(s.path, `mode changed (${s.mode} -> ${t.mode})`);
    }
    if (s.caps && !t?.caps) lose(s.path, `file capability lost (${s.caps})`);
    else if (s.caps && t?.caps !== s.caps) lose(s.path, `file capability changed (${s.caps} -> ${t?.caps})`);
    for (const [name, value] of Object.entries(s.xattrs ?? {})) {
      const tv = t?.xattrs?.[name];
      if (tv === undefined) lose(s.path, `xattr ${name} lost (was ${value})`);
      else if (tv !== value) lose(s.path, `xattr ${name} changed (${value} -> ${tv})`);
    }
  }

  const ownerPaths = new Set([...Object.keys(source.owners), ...source.special.map((e) => e.path)]);
  for (const p of ownerPaths) {
    const was = source.owners[p] ?? '0:0';
    const now = target.owners[p] ?? '0:0';
    if (was !== now) lose(p, `owner changed (${was} -> ${now}${target.owners[p] ? '' : ' or missing'})`);
  }

  const targetGroup = new Map<string, number>();
  target.hardlinks.forEach((g, i) => g.forEach((p) => targetGroup.set(p, i)));
  for (const group of source.hardlinks) {
    // Split the source group by the target inode group each path landed in.
    const parts = new Map<string, string[]>();
    for (const p of group) {
      const key = targetGroup.has(p) ? `g${targetGroup.get(p)}` : `p${p}`;
      parts.set(key, [...(parts.get(key) ?? []), p]);
    }
    if (parts.size > 1) {
      const split = [...parts.values()].map((ps) => `[${ps.join(' ')}]`).join(' ');
      lose(group[0], `hardlink group broken: [${group.join(' ')}] -> ${split}`);
    }
  }

  return losses.sort((a, b) => cmp(a.path, b.path) || cmp(a.what, b.what));
}

export function formatLosses(losses: ManifestLoss[], max = 20): string {
  const lines = losses.slice(0, max).map((l) => `${l.path}: ${l.what}`);
  if (losses.length > max) lines.push(`and ${losses.length - max} more`);
  return lines.join('\n');
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function absPath(root: string, p: string): string {
  return p === '/' ? root : root === '/' ? p : root + p;
}

function relPath(root: string, abs: string): string {
  if (abs === root) return '/';
  return root === '/' ? abs : abs.slice(root.length);
}

// Plain code-unit order, not localeCompare: the manifest must not depend on the locale.
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => cmp(a, b)));
}
