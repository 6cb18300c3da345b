// The physical root of a composefs install, laid out like bootc's composefs backend:
//   composefs/objects/XX/...     file contents by fs-verity digest (mkcomposefs --digest-store)
//   composefs/images/<digest>    the EROFS metadata image
//   state/deploy/<digest>/etc    this deployment's /etc (a copy of the image's)
//   state/os/default/var         the shared /var (a copy of the image's)
// mkcomposefs comes from the image itself, run on the host through the image's own
// dynamic loader: the host (Debian 12) has no composefs, and no chroot or mount is needed.
import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, chmodSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { UsageError } from '../errors.js';
import { runChecked } from '../util/exec.js';

export interface ComposefsStage {
  /** The directory mke2fs -d turns into the root filesystem. */
  dir: string;
  /** sha256 fs-verity digest of the EROFS image, hex. */
  digest: string;
}

const LOADERS = ['usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'lib64/ld-linux-x86-64.so.2', 'usr/lib64/ld-linux-x86-64.so.2'];
const LIB_DIRS = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu', 'usr/lib64', 'lib64'];

/** Pure: argv that runs one of the image's binaries on the host with the image's loader and libraries. */
export function imageToolArgs(mnt: string, tool: string, args: string[], exists: (p: string) => boolean = existsSync): string[] {
  const loader = LOADERS.map((l) => join(mnt, l)).find(exists);
  if (!loader) throw new UsageError(`image has no x86-64 dynamic loader (${LOADERS.join(', ')}): cannot run its ${tool}`);
  const libs = LIB_DIRS.map((d) => join(mnt, d)).filter(exists);
  return [loader, '--library-path', libs.join(':'), join(mnt, tool), ...args];
}

/** Pure: the kernel argument naming the image; "?" marks fs-verity as not enforced. */
export function composefsKarg(digest: string, verity: boolean): string {
  return `composefs=${verity ? '' : '?'}${digest}`;
}

/**
 * Where root's authorized_keys goes in the stage: root's home must be writable state
 * (a symlink into /var, as on bootc images), never inside the read-only image.
 */
export function rootHomeInVar(mnt: string): string {
  const home = join(mnt, 'root');
  const st = lstatSync(home, { throwIfNoEntry: false });
  if (!st?.isSymbolicLink()) {
    throw new UsageError('composefs root: the image\'s /root is inside the read-only image; make it a symlink into /var (bootc images use /var/roothome)');
  }
  const target = posix.normalize(posix.resolve('/', readlinkSync(home)));
  if (!target.startsWith('/var/')) throw new UsageError(`composefs root: /root points to ${target}, which is not under /var`);
  return target.slice('/var/'.length);
}

export async function stageComposefsRoot(opts: { mnt: string; stageDir: string; authorizedKey: string; signal?: AbortSignal }): Promise<ComposefsStage> {
  const S = { stage: 'disk' as const, signal: opts.signal };
  const { mnt, stageDir: dir } = opts;
  const mkcomposefs = 'usr/bin/mkcomposefs';
  if (!existsSync(join(mnt, mkcomposefs))) throw new UsageError('the image is labelled for a composefs root but has no /usr/bin/mkcomposefs (Debian package composefs)');
  const roothome = rootHomeInVar(mnt);

  const cfs = join(dir, 'composefs');
  mkdirSync(join(cfs, 'objects'), { recursive: true });
  mkdirSync(join(cfs, 'images'), { recursive: true });
  chmodSync(cfs, 0o700);
  const tmpImage = join(cfs, 'images', '.new');
  const r = await runChecked(imageToolArgs(mnt, mkcomposefs, ['--print-digest', `--digest-store=${join(cfs, 'objects')}`, mnt, tmpImage]), S);
  const digest = r.stdout.trim().split(/\s+/).pop() ?? '';
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new Error(`mkcomposefs printed no sha256 digest: ${JSON.stringify(r.stdout.trim())}`);
  renameSync(tmpImage, join(cfs, 'images', digest));

  const deploy = join(dir, 'state/deploy', digest);
  const varDir = join(dir, 'state/os/default/var');
  mkdirSync(deploy, { recursive: true });
  mkdirSync(join(dir, 'state/os/default'), { recursive: true });
  await runChecked(['cp', '-a', join(mnt, 'etc'), join(deploy, 'etc')], S);
  await runChecked(['cp', '-a', join(mnt, 'var'), varDir], S);

  // The per-run key lives in writable state, so the image (and its digest) stays the image's.
  const ssh = join(varDir, roothome, '.ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o700 });
  chmodSync(join(varDir, roothome), 0o700);
  chmodSync(ssh, 0o700);
  writeFileSync(join(ssh, 'authorized_keys'), opts.authorizedKey + '\n', { mode: 0o600 });
  return { dir, digest };
}
