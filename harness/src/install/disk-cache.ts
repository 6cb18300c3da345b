// Installed disks, cached by everything that shapes them: the image (its content-addressed
// id), the installer and every install option, the kernel arguments, the LUKS/TPM options,
// and the installer's own code. An entry holds the disk, the kernel the probe boots, the
// SSH key the disk authorizes and, for a sealed root, the TPM state it was sealed to. Every
// boot runs on a qcow2 overlay of the entry's disk, so the entry is never written; a run
// that hits gets copies of the key and the TPM state in its own work directory.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir, REPO_ROOT } from '../util/paths.js';
import { withLock } from '../util/lock.js';
import { isAlive, processId, type ProcessId } from '../util/process-id.js';
import type { InstalledDisk } from './types.js';

export type CachedInstall = InstalledDisk & { qemuExtraArgs?: string[] };

/** What shapes an installed disk. A field added here changes every key: that is intended. */
export interface DiskKeyInputs {
  imageId: string;
  installer: string;
  rootLayout: string;
  luks: string;
  placement: string;
  kargs: readonly string[];
  minDiskGiB: number;
  /** bootc's backend as asked; with `auto` the image (in imageId) decides. */
  bootcBackend: string;
}

/** The code that writes disks: a change to any of it is a new installer version (this cache's own module is not). */
const INSTALLER_SOURCES = ['harness/src/install', 'harness/src/image/kernel.ts', 'harness/src/image/in-root.ts'];
const NOT_INSTALLER = new Set(['disk-cache.ts']);

let versionMemo: string | undefined;
export function installerVersion(): string {
  if (versionMemo) return versionMemo;
  const h = createHash('sha256');
  const files = INSTALLER_SOURCES.flatMap((p) => {
    const abs = resolve(REPO_ROOT, p);
    return statSync(abs).isDirectory() ? readdirSync(abs).sort().filter((f) => !NOT_INSTALLER.has(f)).map((f) => join(abs, f)) : [abs];
  });
  for (const f of files) if (statSync(f).isFile()) h.update(f.slice(REPO_ROOT.length)).update('\0').update(readFileSync(f)).update('\0');
  return (versionMemo = h.digest('hex').slice(0, 16));
}

/** Pure: the entry's name from its inputs and the installer version. */
export function diskKey(inputs: DiskKeyInputs, version: string): string {
  const canonical = JSON.stringify({ ...inputs, version }, Object.keys({ ...inputs, version }).sort());
  return createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

export function diskCacheDir(): string {
  return join(cacheDir(), 'disks');
}

/** The bound on the disk cache, in bytes actually allocated (disks are sparse). */
export function diskCacheLimit(): number {
  return Number(process.env.BOOTC_HARNESS_DISK_CACHE_GIB ?? 40) * 2 ** 30;
}

interface EntryRecord {
  key: string;
  inputs: DiskKeyInputs;
  version: string;
  disk: CachedInstall;
  tpm: boolean;
  createdAt: string;
}

/** What a run gets: the disk to boot (in the cache), and its key and TPM state copied into the run's work dir. */
export interface DiskForRun {
  disk: CachedInstall;
  cached: boolean;
  key: string;
}

export interface InstallOutcome {
  disk: CachedInstall;
  /** The private key whose public half the disk authorizes (id_ed25519 beside id_ed25519.pub). */
  privateKeyPath: string;
  /** The TPM state the root was sealed to, if it was. */
  tpmStateDir?: string;
}

export interface DiskCacheOptions {
  work: string;
  /** Skip the cache: install afresh and keep nothing (--no-disk-cache). */
  bypass: boolean;
  budgetMs: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * The disk for `inputs`: from the cache (key and TPM state copied into `work` as
 * id_ed25519 and tpm/), or installed by `install` and then published. One install per key
 * at a time across processes; an install that fails or is interrupted publishes nothing.
 */
export async function diskFor(inputs: DiskKeyInputs, o: DiskCacheOptions, install: () => Promise<InstallOutcome>): Promise<DiskForRun> {
  const key = diskKey(inputs, installerVersion());
  if (o.bypass) return { disk: (await install()).disk, cached: false, key };
  const root = diskCacheDir();
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const entry = join(root, key);
  return withLock(`${entry}.lock`, { what: `disk cache ${key}`, budgetMs: o.budgetMs, signal: o.signal, onWait: () => o.log(`disk: another run is installing the same disk; waiting`) }, async () => {
    if (existsSync(join(entry, 'entry.json'))) return { disk: useEntry(entry, o.work), cached: true, key };
    removeAbandonedFills(root, key);
    const done = await install();
    publish(entry, key, inputs, done);
    evictBeyond(diskCacheLimit(), key);
    o.log(`disk: cached as ${key}`);
    return { disk: useEntry(entry, o.work), cached: false, key };
  });
}

function useEntry(entry: string, work: string): CachedInstall {
  const rec = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8')) as EntryRecord;
  for (const f of ['id_ed25519', 'id_ed25519.pub']) copyFileSync(join(entry, f), join(work, f));
  if (rec.tpm) {
    rmSync(join(work, 'tpm'), { recursive: true, force: true });
    cpSync(join(entry, 'tpm'), join(work, 'tpm'), { recursive: true });
  }
  const now = new Date();
  utimesSync(join(entry, 'entry.json'), now, now); // last used, for eviction
  return { ...rec.disk, path: join(entry, 'disk.raw'), kernel: { ...rec.disk.kernel, vmlinuz: join(entry, 'vmlinuz') } };
}

/** Into the cache: built beside the entry under a name that says who builds it, then renamed complete. */
function publish(entry: string, key: string, inputs: DiskKeyInputs, done: InstallOutcome): void {
  const me = processId(process.pid)!;
  const tmp = `${entry}.tmp-${me.pid}-${me.start}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  // The run's disk and kernel move in (same filesystem: a rename); the key and TPM state are copied.
  moveOrCopy(done.disk.path, join(tmp, 'disk.raw'));
  moveOrCopy(done.disk.kernel.vmlinuz, join(tmp, 'vmlinuz'));
  for (const f of ['id_ed25519', 'id_ed25519.pub']) copyFileSync(join(done.privateKeyPath, '..', f), join(tmp, f));
  if (done.tpmStateDir) cpSync(done.tpmStateDir, join(tmp, 'tpm'), { recursive: true });
  const rec: EntryRecord = { key, inputs, version: installerVersion(), disk: done.disk, tpm: Boolean(done.tpmStateDir), createdAt: new Date().toISOString() };
  writeFileSync(join(tmp, 'entry.json'), JSON.stringify({ ...rec, owner: me }, null, 2));
  renameSync(tmp, entry);
}

function moveOrCopy(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    cpSync(from, to);
  }
}

/** Half-published entries of fillers that are gone. */
function removeAbandonedFills(root: string, key: string): void {
  for (const name of readdirSync(root)) {
    const m = new RegExp(`^${key}\\.tmp-(\\d+)-(\\d+)$`).exec(name);
    if (!m) continue;
    const owner: ProcessId = { pid: Number(m[1]), start: Number(m[2]), bootId: processId(process.pid)!.bootId };
    if (!isAlive(owner)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

export interface CacheEntryInfo {
  key: string;
  bytes: number;
  lastUsed: Date;
  inputs: DiskKeyInputs;
  createdAt: string;
}

function allocated(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.blocks * 512;
  return readdirSync(path).reduce((n, f) => n + allocated(join(path, f)), 0);
}

export function listDiskCache(): CacheEntryInfo[] {
  const root = diskCacheDir();
  if (!existsSync(root)) return [];
  const out: CacheEntryInfo[] = [];
  for (const name of readdirSync(root)) {
    const rec = join(root, name, 'entry.json');
    if (!/^[0-9a-f]{24}$/.test(name) || !existsSync(rec)) continue;
    const r = JSON.parse(readFileSync(rec, 'utf8')) as EntryRecord;
    out.push({ key: name, bytes: allocated(join(root, name)), lastUsed: statSync(rec).mtime, inputs: r.inputs, createdAt: r.createdAt });
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** Pure: which entries to evict, least recently used first, to get within `limit` (never `keep`). */
export function toEvict(entries: readonly Pick<CacheEntryInfo, 'key' | 'bytes' | 'lastUsed'>[], limit: number, keep: string): string[] {
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const out: string[] = [];
  for (const e of [...entries].sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime())) {
    if (total <= limit) break;
    if (e.key === keep) continue;
    out.push(e.key);
    total -= e.bytes;
  }
  return out;
}

/** Removes an entry unless a run holds its lock (installing it, or about to copy from it). */
function removeEntry(key: string): boolean {
  const entry = join(diskCacheDir(), key);
  if (existsSync(`${entry}.lock`)) return false;
  // Renamed away first, so a reader never sees half an entry.
  const doomed = `${entry}.evicted-${process.pid}`;
  renameSync(entry, doomed);
  rmSync(doomed, { recursive: true, force: true });
  return true;
}

function evictBeyond(limit: number, keep: string): string[] {
  return toEvict(listDiskCache(), limit, keep).filter(removeEntry);
}

/** `cache prune`: every entry no run is using. */
export function pruneDiskCache(): { removed: string[]; busy: string[] } {
  const removed: string[] = [];
  const busy: string[] = [];
  for (const e of listDiskCache()) (removeEntry(e.key) ? removed : busy).push(e.key);
  return { removed, busy };
}
