// Host tools the harness drives, each with the Debian package that provides it,
// so a missing tool is reported as "install X" before anything starts.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';

export const TOOL_PACKAGES: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  swtpm: 'swtpm',
  swtpm_setup: 'swtpm-tools',
  buildah: 'buildah',
  skopeo: 'skopeo',
  mmdebstrap: 'mmdebstrap',
  mkosi: 'mkosi',
  sfdisk: 'fdisk',
  'mkfs.vfat': 'dosfstools',
  'mke2fs': 'e2fsprogs',
  mcopy: 'mtools',
  mmd: 'mtools',
  getfattr: 'attr',
  getcap: 'libcap2-bin',
  setcap: 'libcap2-bin',
  'ssh-keygen': 'openssh-client',
  cryptsetup: 'cryptsetup-bin',
  podman: 'podman',
  modinfo: 'kmod',
  ssh: 'openssh-client',
  bwrap: 'bubblewrap',
  passt: 'passt',
  fsverity: 'fsverity',
};

export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Names every missing tool with its package, in one line (exit 2). */
export function requireTools(names: readonly string[]): void {
  const missing = names.filter((n) => !which(n));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((n) => TOOL_PACKAGES[n] ?? n))];
  throw new UsageError(`missing host tool${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (install Debian package ${pkgs.join(', ')}; or run: just setup)`);
}
