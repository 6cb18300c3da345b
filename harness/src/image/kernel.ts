// Finds the image's own kernel and initramfs: bootc layout first
// (/usr/lib/modules/KVER/vmlinuz), then the Debian /boot layout.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface KernelFiles {
  release: string;
  vmlinuz: string;
  initrd?: string;
}

function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** The newest kernel in a rootfs, or undefined when there is none. */
export function findKernel(root: string): KernelFiles | undefined {
  const found: KernelFiles[] = [];
  const modules = join(root, 'usr/lib/modules');
  const list = (d: string) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  };
  for (const rel of list(modules)) {
    const vmlinuz = join(modules, rel, 'vmlinuz');
    const bootVmlinuz = join(root, 'boot', `vmlinuz-${rel}`);
    const kernel = existsSync(vmlinuz) ? vmlinuz : existsSync(bootVmlinuz) ? bootVmlinuz : undefined;
    if (!kernel) continue;
    const initrd = [join(modules, rel, 'initramfs.img'), join(root, 'boot', `initrd.img-${rel}`), join(root, 'boot', `initramfs-${rel}.img`)].find((p) =>
      existsSync(p),
    );
    found.push({ release: rel, vmlinuz: kernel, initrd });
  }
  found.sort((a, b) => versionCompare(b.release, a.release));
  return found[0];
}
