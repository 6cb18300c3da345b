// virtiofsd: a host directory shared with a VM (vhost-user-fs). Pure argv builders, the
// probe for --readonly, and where to find the binary.
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { which } from '../util/tools.js';
import { absolute } from './qemu-args.js';

/** Debian's virtiofsd 1.x (bcvk also looks in /usr/bin and /usr/local/bin). */
export const VIRTIOFSD_BINARY = '/usr/libexec/virtiofsd';

export type VirtiofsdCache = 'auto' | 'always' | 'never' | 'metadata';
export type VirtiofsdSandbox = 'namespace' | 'chroot' | 'none';

export interface VirtiofsdOptions {
  sharedDir: string;
  socket: string;
  /** Emit --readonly. The caller refuses to start a read-only share with a virtiofsd that
   *  lacks the flag (see virtiofsdHelpHas; older 1.x): the guest's -o ro alone is not a boundary. */
  readOnly: boolean;
  /** Default auto (virtiofsd's own default; mmap works). bcvk uses never. */
  cache?: VirtiofsdCache;
  /** Default namespace (virtiofsd's default; needs root). bcvk uses none inside its container. */
  sandbox?: VirtiofsdSandbox;
  binary?: string;
}

/** One virtiofsd per shared directory (each vhost-user-fs device needs its own daemon). */
export function virtiofsdArgs(o: VirtiofsdOptions): string[] {
  const binary = o.binary ?? VIRTIOFSD_BINARY;
  absolute('virtiofsd binary', binary);
  absolute('virtiofsd shared dir', o.sharedDir);
  absolute('virtiofsd socket', o.socket);
  const args = [
    binary,
    '--socket-path', o.socket,
    '--shared-dir', o.sharedDir,
    '--cache', o.cache ?? 'auto',
    '--sandbox', o.sandbox ?? 'namespace',
  ];
  if (o.readOnly) args.push('--readonly');
  return args;
}

/** True when `virtiofsd --help` output lists `flag` as an option (bcvk's and virtme-ng's probe for --readonly). */
export function virtiofsdHelpHas(helpText: string, flag: string): boolean {
  if (!/^--[a-z][a-z0-9-]*$/.test(flag)) throw new UsageError(`not a long option: ${JSON.stringify(flag)}`);
  return new RegExp(`(^|[\\s,])${flag}(?![a-z0-9-])`, 'm').test(helpText);
}

/** Where `just setup` unpacks trixie's virtiofsd on hosts whose release has no package (Debian 12). */
export const HARNESS_VIRTIOFSD = '/var/cache/bootc-harness/tools/virtiofsd/virtiofsd';
const VIRTIOFSD_CANDIDATES = ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd'];

/** The virtiofsd to use, or a UsageError saying how to get one. */
export function findVirtiofsd(): string {
  const found = [...VIRTIOFSD_CANDIDATES, which('virtiofsd'), HARNESS_VIRTIOFSD].find((p) => p !== undefined && existsSync(p));
  if (!found) throw new UsageError('the installer VM needs virtiofsd (install Debian package virtiofsd; on Debian 12 run: just setup)');
  return found;
}
