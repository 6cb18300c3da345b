// Where things live. The repo root is found from this file, not the cwd, so the
// CLI works from anywhere; caches live outside the clone so CI reuses them.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES_DIR = resolve(REPO_ROOT, 'fixtures');
export const PROFILES_DIR = resolve(REPO_ROOT, 'vm-images');
export const SUITES_DIR = resolve(REPO_ROOT, 'suites');

export function reportsDir(): string {
  return resolve(process.env.BOOTC_HARNESS_REPORTS ?? resolve(REPO_ROOT, 'reports'));
}

/** Built fixtures and probe results; survives clones. */
export function cacheDir(): string {
  return resolve(process.env.BOOTC_HARNESS_CACHE ?? '/var/cache/bootc-harness');
}

/** Per-run scratch (disks, sockets, TPM state); removed at teardown unless --keep. */
export function workDir(): string {
  return resolve(process.env.BOOTC_HARNESS_WORK ?? '/var/tmp/bootc-harness');
}
