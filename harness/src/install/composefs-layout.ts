// The physical root of a composefs install, laid out like bootc's composefs backend:
//   composefs/objects/XX/...     file contents by fs-verity digest (mkcomposefs --digest-store)
//   composefs/images/<digest>    the EROFS metadata image
//   state/deploy/<digest>/etc    this deployment's /etc (a copy of the image's)
//   state/os/default/var         the shared /var (a copy of the image's)
// mkcomposefs is the host's own (Debian's, unpacked by `just setup` where the host's
// release has no composefs package): no binary of the image under test runs on the host.
import { existsSync, mkdirSync, renameSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chmodDirInRoot, isFileInRoot, mkdirInRoot, statInRoot, walkTreeInRoot, whereInRoot, writeFileInRoot } from '../image/in-root.js';
import { UsageError } from '../errors.js';
import { runChecked } from '../util/exec.js';
import { runTreeReaderChecked, TREE_TOOL_MS } from '../util/sandbox.js';
import { which } from '../util/tools.js';

export interface ComposefsStage {
  /** The directory mke2fs -d turns into the root filesystem. */
  dir: string;
  /** sha256 fs-verity digest of the EROFS image, hex. */
  digest: string;
}

/** The largest file mkcomposefs may write: an object is a copy of one file of the image. */
const MAX_OBJECT_BYTES = 16 * 2 ** 30;

/** Where `just setup` unpacks Debian's mkcomposefs on hosts whose release has no composefs. */
export const HARNESS_MKCOMPOSEFS = '/var/cache/bootc-harness/tools/mkcomposefs/mkcomposefs';

/** The host's mkcomposefs: the distribution's, else the one `just setup` unpacked. */
export function findMkcomposefs(): string {
  const found = [which('mkcomposefs'), HARNESS_MKCOMPOSEFS].find((p) => p !== undefined && existsSync(p));
  if (!found) throw new UsageError('a composefs root needs mkcomposefs on the host (Debian package composefs; on hosts without it run: just setup)');
  return found;
}

/** Pure: the kernel argument naming the image; "?" marks fs-verity as not enforced. */
export function composefsKarg(digest: string, verity: boolean): string {
  return `composefs=${verity ? '' : '?'}${digest}`;
}

/**
 * Where root's authorized_keys goes in the stage: root's home must be writable state
 * (a symlink into /var, as on bootc images), never inside the read-only image.
 */
export async function rootHomeInVar(mnt: string): Promise<string> {
  const st = await statInRoot(mnt, '/root', { followFinal: false });
  if (!st?.isSymbolicLink()) {
    throw new UsageError('composefs root: the image\'s /root is inside the read-only image; make it a symlink into /var (bootc images use /var/roothome)');
  }
  // Followed inside the image only, link by link: where /root really ends up in it.
  const target = (await whereInRoot(mnt, '/root', { whereMissing: true }))!;
  if (!target.startsWith('/var/')) throw new UsageError(`composefs root: /root points to ${target}, which is not under /var`);
  return target.slice('/var/'.length);
}

export async function stageComposefsRoot(opts: { mnt: string; stageDir: string; authorizedKey: string; signal?: AbortSignal; log?: (line: string) => void }): Promise<ComposefsStage> {
  const S = { stage: 'disk' as const, signal: opts.signal };
  const { mnt, stageDir: dir } = opts;
  const mkcomposefs = findMkcomposefs();
  // The image mounts its root with its own mount.composefs: without composefs it could not boot this layout.
  if (!(await isFileInRoot(mnt, '/usr/bin/mount.composefs')) && !(await isFileInRoot(mnt, '/usr/sbin/mount.composefs'))) {
    throw new UsageError('the image is labelled for a composefs root but has no mount.composefs (Debian package composefs)');
  }
  const roothome = await rootHomeInVar(mnt);

  const cfs = join(dir, 'composefs');
  mkdirSync(join(cfs, 'objects'), { recursive: true });
  mkdirSync(join(cfs, 'images'), { recursive: true });
  chmodSync(cfs, 0o700);
  const tmpImage = join(cfs, 'images', '.new');
  // mkcomposefs reads every file of the image (lstat, no link followed; contents for their
  // fs-verity digests): sandboxed as a reader of it, writing only the object store and image.
  const r = await runTreeReaderChecked([mkcomposefs, '--print-digest', `--digest-store=${join(cfs, 'objects')}`, mnt, tmpImage], { inputs: [mnt], outputs: [join(cfs, 'objects'), join(cfs, 'images')], maxFileBytes: MAX_OBJECT_BYTES }, { stage: 'disk', what: `mkcomposefs on ${mnt}`, timeoutMs: TREE_TOOL_MS, maxOutputBytes: 1024 * 1024, ...(opts.signal ? { signal: opts.signal } : {}) });
  const digest = r.stdout.trim().split(/\s+/).pop() ?? '';
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new Error(`mkcomposefs printed no sha256 digest: ${JSON.stringify(r.stdout.trim())}`);
  renameSync(tmpImage, join(cfs, 'images', digest));

  const deploy = join(dir, 'state/deploy', digest);
  const varDir = join(dir, 'state/os/default/var');
  mkdirSync(deploy, { recursive: true });
  mkdirSync(join(dir, 'state/os/default'), { recursive: true });
  await copyTreesOut(mnt, [{ from: 'etc', to: join(deploy, 'etc') }, { from: 'var', to: varDir }], dir, { ...S, ...(opts.log ? { log: opts.log } : {}) });

  // The per-run key lives in writable state, so the image (and its digest) stays the image's.
  // The copy of /var is the image's: resolved inside it, so none of its links leads out.
  await mkdirInRoot(varDir, `/${roothome}/.ssh`, 0o700);
  await chmodDirInRoot(varDir, `/${roothome}`, 0o700);
  await chmodDirInRoot(varDir, `/${roothome}/.ssh`, 0o700);
  await writeFileInRoot(varDir, `/${roothome}/.ssh/authorized_keys`, opts.authorizedKey + '\n', 0o600);
  return { dir, digest };
}

/** Pure: the tar entries of a tree walked in the image, device nodes left out (and counted). */
export function entriesWithoutDevices(entries: readonly { rel: string; type: string }[]): { keep: string[]; devices: string[] } {
  const keep: string[] = [];
  const devices: string[] = [];
  for (const e of entries) (e.type === 'char' || e.type === 'block' ? devices : keep).push(e.rel);
  return { keep, devices };
}

/**
 * Copies directories of the image (its /etc, its /var) into the stage, as `cp -a` would
 * (owners, modes, times, xattrs, ACLs, hard links) but never recreating a device node in the
 * work dir: the tree is walked on descriptors inside the image, device nodes are left out
 * (one line says how many and names the first), and tar copies exactly the listed entries.
 * The image mount is nodev and used by the host alone at this point (no VM shares it).
 */
export async function copyTreesOut(mnt: string, trees: { from: string; to: string }[], scratch: string, S: { stage: 'disk'; signal?: AbortSignal; log?: (l: string) => void }): Promise<{ skipped: string[] }> {
  const list = join(scratch, '.copy-list');
  const archive = join(scratch, '.copy.tar');
  const unpack = join(scratch, '.copy-out');
  const skipped: string[] = [];
  try {
    const names: string[] = [];
    for (const t of trees) {
      const { keep, devices } = entriesWithoutDevices(await walkTreeInRoot(mnt, `/${t.from}`));
      if (keep[0] !== t.from) throw new UsageError(`/${t.from} in the image leads to /${keep[0]}: expected a directory of its own`);
      names.push(...keep);
      skipped.push(...devices.map((d) => `/${d}`));
    }
    writeFileSync(list, names.join('\0') + '\0', { mode: 0o600 });
    mkdirSync(unpack, { mode: 0o700 });
    // GNU tar: --no-recursion takes only the listed entries; no -h, so links stay links.
    await runChecked(['tar', '--create', `--file=${archive}`, `--directory=${mnt}`, '--no-recursion', '--null', `--files-from=${list}`, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--selinux'], S);
    await runChecked(['tar', '--extract', `--file=${archive}`, `--directory=${unpack}`, '--same-owner', '--same-permissions', '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--selinux'], S);
    for (const t of trees) renameSync(join(unpack, t.from), t.to);
    if (skipped.length) S.log?.(`disk: ${skipped.length} device node(s) in the image left out of the copy (device nodes are never recreated in the work dir), the first ${skipped[0]}`);
    return { skipped };
  } finally {
    for (const p of [list, archive, unpack]) rmSync(p, { recursive: true, force: true });
  }
}
