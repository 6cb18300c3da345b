// Where things live. The package's own files (profiles, fixture recipes, suites, scripts) are
// found from this file, not the cwd, so the CLI works from anywhere, a checkout or an npm
// install; what the caller makes (reports) lands under the caller's directory (the cwd);
// caches live outside both so CI reuses them.
import { fileURLToPath } from 'node:url';
import { basename, dirname, join, resolve } from 'node:path';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { UsageError } from '../errors.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES_DIR = resolve(REPO_ROOT, 'fixtures');
export const PROFILES_DIR = resolve(REPO_ROOT, 'vm-images');

/** Reports: the caller's, so under the cwd (in this checkout, run from its root, the same reports/). */
export function reportsDir(): string {
  return resolve(process.env.BOOTC_HARNESS_REPORTS ?? resolve(process.cwd(), 'reports'));
}

const checkedCaches = new Set<string>();

/**
 * Built fixtures, images' and disks' records, probe results; survives clones. Created 0700
 * and refused (one line, exit 2) unless it is a real directory owned by us that nobody else
 * can write: its records decide which disk boots and which images `buildah rmi` removes.
 * Checked once per process and path.
 */
export function cacheDir(): string {
  const root = resolve(process.env.BOOTC_HARNESS_CACHE ?? '/var/cache/bootc-harness');
  if (!checkedCaches.has(root)) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    refuseUnlessOwnDirectory('cache directory', root);
    checkedCaches.add(root);
  }
  return root;
}

/** Pure on a stat: why a root directory of ours may not be used, or undefined. */
export function ownDirectoryRefusal(what: string, root: string, st: { isDirectory(): boolean; uid: number; mode: number }, uid: number): string | undefined {
  if (!st.isDirectory()) return `${what} ${root} is not a directory (a symlink?): refusing to use it`;
  if (st.uid !== uid) return `${what} ${root} belongs to uid ${st.uid}, not to us (uid ${uid}): refusing to use it`;
  if (st.mode & 0o022) return `${what} ${root} is writable by ${st.mode & 0o002 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)}): refusing to use it`;
  return undefined;
}

function refuseUnlessOwnDirectory(what: string, root: string): void {
  const why = ownDirectoryRefusal(what, root, lstatSync(root), process.getuid?.() ?? 0);
  if (why) throw new UsageError(why);
}

/** Per-run scratch (disks, sockets, TPM state); removed at teardown unless --keep. */
export function workDir(): string {
  return resolve(process.env.BOOTC_HARNESS_WORK ?? '/var/tmp/bootc-harness');
}

/**
 * Every work root of this machine's runs: the base root and its lanes (`BASE/.lanes/N`, one per
 * test file running in parallel, so that each file's "nothing left behind" sees its own runs).
 */
export function allWorkRoots(): string[] {
  const w = workDir();
  const base = basename(dirname(w)) === '.lanes' ? dirname(dirname(w)) : w;
  const lanes = join(base, '.lanes');
  return [base, ...(existsSync(lanes) ? readdirSync(lanes).map((n) => join(lanes, n)) : [])];
}

/**
 * The work root, created 0700 if missing, and refused (one line, exit 2) unless it is a
 * real directory owned by us that nobody else can write: run dirs hold keys and disks,
 * and another user's directory could swap them.
 */
export function ensureWorkRoot(): string {
  const root = workDir();
  mkdirSync(root, { recursive: true, mode: 0o700 });
  refuseUnlessOwnDirectory('work directory', root);
  return root;
}
