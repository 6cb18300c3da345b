// The bootc version an image ships, read from its package database as data: no binary of the
// image runs on the host (the image is untrusted). Every path is resolved inside the image
// root (in-root.ts); a database is copied out before a host tool reads it, so nothing the tool
// does (sqlite -wal/-shm files, locks) touches the image, and the reader (rpm or sqlite3)
// parses it in a sandbox (util/sandbox.ts) as nobody, with a deadline and an output limit.
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as zlib, gunzipSync } from 'node:zlib';
import type { Stage } from '../errors.js';
import { NOBODY, runSandboxed } from '../util/sandbox.js';
import { which } from '../util/tools.js';
import { ImageError, copyFileOutOfRoot, isFileInRoot, listDirInRoot, readFileInRoot, readTextInRoot } from './in-root.js';

export interface BootcVersion {
  /** Upstream version (no epoch or distro release), e.g. "1.12.1"; undefined when unknown. */
  version?: string;
  /** Where it was read, or why it could not be: for the log. */
  from: string;
}

/** Debian's [epoch:]upstream[-revision] without epoch and revision. */
function debianUpstream(v: string): string {
  const noEpoch = v.replace(/^\d+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return dash > 0 ? noEpoch.slice(0, dash) : noEpoch;
}

/** The installed bootc's upstream version in a dpkg status file (var/lib/dpkg/status). */
export function bootcFromDpkgStatus(text: string): string | undefined {
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    // "install ok installed" or "hold ok installed": a removed package keeps its stanza.
    if (fields.get('package') === 'bootc' && /\sinstalled$/.test(fields.get('status') ?? '') && fields.get('version')) {
      return debianUpstream(fields.get('version')!);
    }
  }
  return undefined;
}

const RPMTAG_NAME = 1000;
const RPMTAG_VERSION = 1001;
const RPM_STRING_TYPE = 6;

/** NAME and VERSION of one rpm header blob as rpmdb.sqlite stores it (headerExport: il, dl,
 *  il 16-byte index entries, dl bytes of data). Bounds-checked: the blob is untrusted. */
export function rpmHeaderNameVersion(blob: Buffer): { name?: string; version?: string } {
  if (blob.length < 8) return {};
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  const data = 8 + il * 16;
  if (il > 0xffff || data + dl > blob.length) return {};
  const out: { name?: string; version?: string } = {};
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = blob.readInt32BE(e);
    const off = blob.readInt32BE(e + 8);
    if (blob.readUInt32BE(e + 4) !== RPM_STRING_TYPE || (tag !== RPMTAG_NAME && tag !== RPMTAG_VERSION)) continue;
    if (off < 0 || off >= dl) continue;
    const end = blob.indexOf(0, data + off);
    if (end < 0 || end >= data + dl) continue;
    const s = blob.toString('utf8', data + off, end);
    if (tag === RPMTAG_NAME) out.name = s;
    else out.version = s;
  }
  return out;
}

/** `path` when it is a regular file inside the root (walked in it by in-root.ts), else undefined. */
async function regularFile(root: string, path: string): Promise<string | undefined> {
  try {
    return (await isFileInRoot(root, path)) ? path : undefined;
  } catch {
    return undefined; // too many links: the image's own loop
  }
}

/** Bounds what an image's package database makes the harness copy. */
const RPMDB_CAP = 1024 * 2 ** 20;
const DPKG_STATUS_CAP = 64 * 2 ** 20;

const RPMDB_DIRS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
// -safe: no readfile()/writefile()/edit()/.shell for a crafted schema to reach; trusted_schema
// off: views and triggers of the database cannot call functions with side effects.
const SQLITE_FLAGS = ['-safe', '-readonly', '-batch', '-bail', '-noheader', '-cmd', 'PRAGMA trusted_schema=OFF;'];
const SQLITE_QUERY =
  "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('Packages', 'Name');" +
  "SELECT hex(blob) FROM Packages WHERE hnum IN (SELECT hnum FROM Name WHERE key = 'bootc');";

/** A real rpm database answers in milliseconds; a crafted one (a view over an endless recursive
 *  CTE) would run until killed. */
export const RPMDB_READ_MS = 20_000;
/** The hex of a few package headers: a crafted view returning endless rows stops here. */
export const RPMDB_OUTPUT_BYTES = 32 * 1024 * 1024;

/** How a database is read: a stage's signal, and bounds tighter than the defaults (tests). */
export interface ReadOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

async function fromRpmdb(root: string, stage: Stage, o: ReadOptions): Promise<BootcVersion | undefined> {
  for (const dir of RPMDB_DIRS) {
    const db = await regularFile(root, `${dir}/rpmdb.sqlite`);
    if (!db) continue;
    const rpm = which('rpm');
    const sqlite3 = which('sqlite3');
    if (!rpm && !sqlite3) return { from: `${dir}/rpmdb.sqlite is there, but this host has neither rpm nor sqlite3 to read it` };
    const tmp = mkdtempSync(join(tmpdir(), 'bh-rpmdb-'));
    try {
      // Copied through the safe opener: a regular file, O_NONBLOCK, bounded.
      await copyFileOutOfRoot(root, db, join(tmp, 'rpmdb.sqlite'), RPMDB_CAP);
      const wal = await regularFile(root, `${dir}/rpmdb.sqlite-wal`);
      if (wal) await copyFileOutOfRoot(root, wal, join(tmp, 'rpmdb.sqlite-wal'), RPMDB_CAP);
      // The sandboxed reader runs as nobody and may write its -shm and lock files beside the copy:
      // the directory (still 0700) and the copies become nobody's.
      for (const f of [tmp, ...readdirSync(tmp).map((n) => join(tmp, n))]) chownSync(f, NOBODY, NOBODY);
      const box = { inputs: [], outputs: [tmp], user: 'nobody' as const };
      const bounds = { stage, timeoutMs: o.timeoutMs ?? RPMDB_READ_MS, maxOutputBytes: o.maxOutputBytes ?? RPMDB_OUTPUT_BYTES, ...(o.signal ? { signal: o.signal } : {}) };
      // sqlite3 first: it only hands out the header blobs, parsed here bounds-checked; rpm (when
      // there is no sqlite3) parses the headers itself and tells a foreign schema from "not installed" poorly.
      if (!sqlite3) {
        const r = await runSandboxed([rpm!, '--dbpath', tmp, '--define', '_db_backend sqlite', '-q', '--qf', '%{VERSION}\\n', 'bootc'], box, { ...bounds, what: `rpm on ${dir}/rpmdb.sqlite` });
        const v = r.exitCode === 0 ? r.stdout.split('\n')[0]!.trim() : '';
        return v ? { version: v, from: `${dir} (rpm --dbpath)` } : { from: `no bootc package in ${dir}` };
      }
      const r = await runSandboxed([sqlite3, ...SQLITE_FLAGS, join(tmp, 'rpmdb.sqlite'), SQLITE_QUERY], box, { ...bounds, what: `sqlite3 on ${dir}/rpmdb.sqlite` });
      const [count, ...hex] = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
      if (r.exitCode !== 0 || count !== '2') return { from: `${dir}/rpmdb.sqlite does not read as an rpm database` };
      for (const h of hex) {
        const hdr = rpmHeaderNameVersion(Buffer.from(h, 'hex'));
        if (hdr.name === 'bootc' && hdr.version) return { version: hdr.version, from: `${dir}/rpmdb.sqlite (sqlite3)` };
      }
      return { from: `no bootc package in ${dir}/rpmdb.sqlite` };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return undefined;
}

async function list(root: string, dir: string): Promise<string[]> {
  try {
    return ((await listDirInRoot(root, dir)) ?? []).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Weaker evidence when no package database names bootc: pacman's local db directory name,
 *  a versioned doc directory, or the first line of Debian's changelog. */
async function fromFiles(root: string): Promise<BootcVersion | undefined> {
  for (const d of await list(root, '/var/lib/pacman/local')) {
    const m = /^bootc-((?:\d+:)?\d[\w.+~]*)-[\w.+~]+$/.exec(d);
    if (m) return { version: m[1]!.replace(/^\d+:/, ''), from: `/var/lib/pacman/local/${d}` };
  }
  for (const d of await list(root, '/usr/share/doc')) {
    const m = /^bootc-(\d+\.\d+(?:\.\d+)?)$/.exec(d);
    if (m) return { version: m[1]!, from: `/usr/share/doc/${d}` };
  }
  const changelog = await regularFile(root, '/usr/share/doc/bootc/changelog.Debian.gz');
  if (changelog) {
    try {
      // Only the head: the first line is all it takes, and a bounded input bounds a gzip bomb.
      const head = (await readFileInRoot(root, changelog, { maxBytes: 4096, head: true })) ?? Buffer.alloc(0);
      const first = gunzipSync(head, { finishFlush: zlib.Z_SYNC_FLUSH }).toString('utf8').split('\n')[0]!;
      const m = /^bootc \(([^)\s]+)\)/.exec(first);
      if (m) return { version: debianUpstream(m[1]!), from: '/usr/share/doc/bootc/changelog.Debian.gz' };
    } catch {
      /* not gzip: no evidence */
    }
  }
  return undefined;
}

/** The image's bootc version, or why it is unknown. A database that is a FIFO, a device or too
 *  large is no evidence: said, never waited on. Throws only for a hostile database: a reader that
 *  overruns its deadline or output limit (UsageError naming the reader and the file). */
export async function readBootcVersion(root: string, stage: Stage = 'image', opts: ReadOptions = {}): Promise<BootcVersion> {
  const v: BootcVersion = await find(root, stage, opts).catch((e: unknown) => (e instanceof ImageError ? { from: e.message } : Promise.reject(e)));
  // The text comes from the image and ends up in logs: a version's characters only.
  return v.version === undefined || /^[\w.+~:-]{1,64}$/.test(v.version) ? v : { from: `${v.from} holds no readable version` };
}

async function find(root: string, stage: Stage, opts: ReadOptions): Promise<BootcVersion> {
  const status = await regularFile(root, '/var/lib/dpkg/status');
  if (status) {
    const v = bootcFromDpkgStatus((await readTextInRoot(root, status, DPKG_STATUS_CAP)) ?? '');
    if (v) return { version: v, from: '/var/lib/dpkg/status' };
  }
  const rpm = await fromRpmdb(root, stage, opts);
  if (rpm?.version) return rpm;
  return (await fromFiles(root)) ?? rpm ?? { from: 'no package database in the image names bootc' };
}
