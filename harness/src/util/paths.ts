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

/** Built fixtures and probe results; survives clones. */
export function cacheDir(): string {
  return resolve(process.env.BOOTC_HARNESS_CACHE ?? '/var/cache/bootc-harness');
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
  const st = lstatSync(root);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new UsageError(`work directory ${root} is not a directory (a symlink?): refusing to use it`);
  if (st.uid !== uid) throw new UsageError(`work directory ${root} belongs to uid ${st.uid}, not to us (uid ${uid}): refusing to use it`);
  if (st.mode & 0o022) throw new UsageError(`work directory ${root} is writable by ${st.mode & 0o002 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)}): refusing to use it`);
  return root;
}
