// Finds the image's own kernel and initramfs: bootc layout first
// (/usr/lib/modules/KVER/vmlinuz), then the Debian /boot layout. Every path is
// resolved inside the image (its /boot/vmlinuz may be a link, never to the host's).
import { existsSync, readdirSync } from 'node:fs';
import { resolveInRoot } from './in-root.js';

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
  const inRoot = (p: string) => resolveInRoot(root, p);
  const modules = inRoot('/usr/lib/modules');
  const list = (d: string) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  };
  for (const rel of list(modules)) {
    const vmlinuz = inRoot(`/usr/lib/modules/${rel}/vmlinuz`);
    const bootVmlinuz = inRoot(`/boot/vmlinuz-${rel}`);
    const kernel = existsSync(vmlinuz) ? vmlinuz : existsSync(bootVmlinuz) ? bootVmlinuz : undefined;
    if (!kernel) continue;
    const initrd = [`/usr/lib/modules/${rel}/initramfs.img`, `/boot/initrd.img-${rel}`, `/boot/initramfs-${rel}.img`].map(inRoot).find((p) => existsSync(p));
    found.push({ release: rel, vmlinuz: kernel, initrd });
  }
  found.sort((a, b) => versionCompare(b.release, a.release));
  return found[0];
}
