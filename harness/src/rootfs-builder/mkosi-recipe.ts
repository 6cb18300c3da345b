// A fixture built by mkosi, as snosi builds its images (frostyard/snosi: mkosi.conf,
// Format=directory): the fixture directory is mkosi's configuration; the harness adds only
// the release (the recipe's suite), the mirror and where the tree goes. Pure builders here;
// build.ts runs them under the same cache, lock and budget as mmdebstrap's.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { SAFE_PATH } from './recipe-schema.js';

/** mkosi releases before this lack what the fixtures' mkosi.conf relies on (LocalMirror=, .chroot scripts, IMAGE_ID in os-release). */
export const MKOSI_MIN_MAJOR = 24;

/** Pure: mkosi's major version from `mkosi --version` ("mkosi 24.3"). */
export function mkosiMajor(versionText: string): number | undefined {
  const m = /^mkosi (\d+)/m.exec(versionText.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * Every input in an mkosi fixture's directory, sorted, as [relative path with its kind and
 * mode, bytes]: the cache key covers the configuration, the extra tree and the scripts
 * (an executable bit decides whether mkosi runs a script).
 */
export function mkosiInputs(dir: string, rel = ''): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(...mkosiInputs(dir, r));
    else if (st.isSymbolicLink()) out.push([`${r} link`, Buffer.from(readlinkSync(join(dir, r)))]);
    else if (st.isFile()) out.push([`${r} ${(st.mode & 0o7777).toString(8)}`, readFileSync(join(dir, r))]);
  }
  return out;
}

/**
 * The mkosi command line for an mkosi fixture. `--local-mirror`, not `--mirror`: mkosi then
 * uses that one archive alone, where with a mirror it also adds the security, updates and
 * debug suites (Debian's debug suite lives on another host, which a local mirror may not
 * carry). The output is `<outDir>/rootfs`, a directory, as mmdebstrap's is.
 */
export function mkosiArgs(o: { configDir: string; suite: string; mirror: string; outDir: string; workspaceDir: string; packageCacheDir: string }): string[] {
  for (const [what, p] of [
    ['fixture directory', o.configDir],
    ['output directory', o.outDir],
    ['workspace directory', o.workspaceDir],
    ['package cache', o.packageCacheDir],
  ] as const) {
    if (!SAFE_PATH.test(p)) throw new UsageError(`mkosi ${what} ${JSON.stringify(p)} must be a plain absolute path`);
  }
  return [
    'mkosi',
    `--directory=${o.configDir}`,
    `--release=${o.suite}`,
    `--local-mirror=${o.mirror}`,
    '--format=directory',
    `--output-dir=${o.outDir}`,
    '--output=rootfs',
    `--workspace-dir=${o.workspaceDir}`,
    `--package-cache-dir=${o.packageCacheDir}`,
    '--force',
    'build',
  ];
}
