// image.no-new-privileges, judged: every SUID/SGID bit and file capability on the guest's local
// persistent file systems is one the source gave that very file. Pure functions over guest
// command outputs, so the failing side is tested without a guest.
import type { SpecialEntry } from '../image/manifest.js';

/**
 * File system types that hold nothing an image installs: kernel views, memory-backed and
 * network file systems. Everything else mounted is scanned (by type, not by path: an image
 * that mounts its own persistent file system anywhere is covered).
 */
export const NOT_LOCAL_PERSISTENT = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'ramfs', 'cgroup', 'cgroup2', 'securityfs', 'debugfs',
  'tracefs', 'configfs', 'pstore', 'efivarfs', 'bpf', 'mqueue', 'hugetlbfs', 'fusectl', 'autofs',
  'binfmt_misc', 'rpc_pipefs', 'nfsd', 'selinuxfs', 'nsfs', 'fuse.gvfsd-fuse', 'fuse.portal',
  'nfs', 'nfs4', 'cifs', 'smb3', '9p', 'virtiofs', 'ceph', 'glusterfs', 'fuse.sshfs', 'squashfuse',
]);

/** Unescapes findmnt -r's \xNN escapes (a space is \x20). */
function unescapeRaw(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Pure: the mount points to scan, from `findmnt -rn -o TARGET,FSTYPE` (every mount, / first). */
export function localPersistentMounts(findmntRaw: string): string[] {
  const out: string[] = [];
  for (const line of findmntRaw.split('\n')) {
    const [target, fstype] = line.trim().split(/\s+/);
    if (!target || !fstype) continue;
    if (NOT_LOCAL_PERSISTENT.has(fstype)) continue;
    const t = unescapeRaw(target);
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

/** One file the guest shows: its identity (device and inode) and path. */
interface Found {
  id: string;
  path: string;
}

/** Pure: `find ... -printf '%D %i %m %p\n'` lines. */
export function parseSetidFind(out: string): Array<Found & { mode: string }> {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => /^(\d+) (\d+) ([0-7]+) (.+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: `${m[1]}:${m[2]}`, mode: m[3]!.padStart(4, '0'), path: m[4]! }));
}

/** Pure: getcap's lines ("/usr/bin/ping cap_net_raw=ep", older: "/usr/bin/ping = cap_net_raw+ep"). */
export function parseGetcap(out: string): Map<string, string> {
  const caps = new Map<string, string>();
  for (const l of out.split('\n')) {
    const m = /^(\S+)\s+(?:= )?(\S+)$/.exec(l.trim());
    if (m) caps.set(m[1]!, m[2]!.replace(/\+/, '='));
  }
  return caps;
}

/**
 * Pure: files getcap could not read, from its stderr. getcap exits 0 whatever happens to a file
 * (libcap progs/getcap.c: do_getcap prints "Failed to get capabilities of file `X' (error)" and
 * returns 0), so its status alone proves nothing. "Operation not supported" is a file system
 * that cannot hold capabilities (vfat): nothing to gain there, not a failure.
 */
export function getcapFailures(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^Failed to get capabilities/.test(l) && !/\((Operation not supported|Not supported)\)$/.test(l));
}

/** Pure: `stat -c '%d %i %n'` lines, path -> "dev:ino" (find's %D and stat's %d are both decimal). */
export function parseStatIds(out: string): Map<string, string> {
  const ids = new Map<string, string>();
  for (const l of out.split('\n')) {
    const m = /^(\d+) (\d+) (.+)$/.exec(l);
    if (m) ids.set(m[3]!, `${m[1]}:${m[2]}`);
  }
  return ids;
}

export interface GuestPrivileges {
  /** SUID/SGID files on the scanned file systems (parseSetidFind). */
  setid: Array<Found & { mode: string }>;
  /** Files with a capability on them (parseGetcap). */
  caps: Map<string, string>;
  /** Device and inode of every source special path and every capability path, in the guest (parseStatIds). */
  ids: Map<string, string>;
}

/**
 * Pure: privileges the guest has that the source did not give, one line per file, sorted by path.
 * A file is the source's when its path is, or when it is the same inode as a source path seen
 * through another mount (a bind mount of /etc or /var shows its files twice: logical and
 * physical path); a gained one is named once, by its shortest path, with the others beside it.
 */
export function gainedPrivileges(source: readonly SpecialEntry[], guest: GuestPrivileges): string[] {
  const byPath = new Map(source.map((e) => [e.path, e]));
  const byId = new Map<string, SpecialEntry>();
  for (const e of source) {
    const id = guest.ids.get(e.path);
    if (id) byId.set(id, e);
  }
  const sourceOf = (path: string, id: string | undefined) => byPath.get(path) ?? (id ? byId.get(id) : undefined);
  // One entry per file (its identity, else its path), with every path it was seen under.
  const gained = new Map<string, { paths: string[]; what: string }>();
  const add = (key: string, path: string, what: string) => {
    const g = gained.get(key);
    if (g) g.paths.push(path);
    else gained.set(key, { paths: [path], what });
  };
  for (const f of guest.setid) {
    const src = sourceOf(f.path, f.id);
    const srcMode = src ? parseInt(src.mode, 8) : 0;
    if ((parseInt(f.mode, 8) & 0o6000 & ~srcMode) === 0) continue;
    add(`setid ${f.id}`, f.path, `mode ${f.mode} in the guest, ${(srcMode & 0o6000) !== 0 ? `${src!.mode.padStart(4, '0')} in the source` : 'no SUID/SGID in the source'}`);
  }
  for (const [path, caps] of guest.caps) {
    const id = guest.ids.get(path);
    const src = sourceOf(path, id);
    if (src?.caps !== caps) add(`caps ${id ?? path}`, path, `${caps} in the guest, ${src?.caps ?? 'none'} in the source`);
  }
  return [...gained.values()]
    .map(({ paths, what }) => {
      const [first, ...rest] = [...paths].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
      return { first: first!, line: `${first}${rest.length ? ` (also ${rest.join(', ')})` : ''}: ${what}` };
    })
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
    .map((x) => x.line);
}
