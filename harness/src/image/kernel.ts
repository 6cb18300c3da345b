// Finds the image's own kernel and initramfs: bootc layout first
// (/usr/lib/modules/KVER/vmlinuz), then the Debian /boot layout. Every path is walked
// inside the image (its /boot/vmlinuz may be a link, never to the host's), and only a
// regular file counts; the files are then copied out (copyKernelOut) so that cp, mcopy and
// QEMU's -kernel read the harness's copy, never a name in the image.
import { join } from 'node:path';
import { ImageError, copyFileOutOfRoot, kindOf, listDirInRoot, statInRoot } from './in-root.js';

export interface KernelFiles {
  release: string;
  /** Paths inside the image root. */
  vmlinuz: string;
  initrd?: string;
}

/** Larger than any real kernel or initramfs; bounds what an image can make the harness copy. */
export const KERNEL_CAP = 256 * 2 ** 20;
export const INITRD_CAP = 2 * 2 ** 30;

function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** The first of `paths` that exists in the image; anything there but a regular file is refused (ImageError). */
async function firstFile(root: string, paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    const st = await statInRoot(root, p);
    if (!st) continue;
    if (!st.isFile()) throw new ImageError(`${p} in the image is ${kindOf(st)}, expected a regular file`);
    return p;
  }
  return undefined;
}

/** The newest kernel in a rootfs, or undefined when there is none. */
export async function findKernel(root: string): Promise<KernelFiles | undefined> {
  const found: KernelFiles[] = [];
  const releases = (await listDirInRoot(root, '/usr/lib/modules').catch((e) => (e instanceof ImageError ? [] : Promise.reject(e)))) ?? [];
  for (const { name: rel } of releases) {
    const kernel = await firstFile(root, [`/usr/lib/modules/${rel}/vmlinuz`, `/boot/vmlinuz-${rel}`]);
    if (!kernel) continue;
    const initrd = await firstFile(root, [`/usr/lib/modules/${rel}/initramfs.img`, `/boot/initrd.img-${rel}`, `/boot/initramfs-${rel}.img`]);
    found.push({ release: rel, vmlinuz: kernel, ...(initrd ? { initrd } : {}) });
  }
  found.sort((a, b) => versionCompare(b.release, a.release));
  return found[0];
}

/** The kernel (and initramfs) copied out of the image into `dir` (vmlinuz, initrd.img): host paths tools may read. */
export async function copyKernelOut(root: string, k: KernelFiles, dir: string): Promise<{ vmlinuz: string; initrd?: string }> {
  const vmlinuz = join(dir, 'vmlinuz');
  if (!(await copyFileOutOfRoot(root, k.vmlinuz, vmlinuz, KERNEL_CAP))) throw new ImageError(`${k.vmlinuz} vanished from the image`);
  if (!k.initrd) return { vmlinuz };
  const initrd = join(dir, 'initrd.img');
  if (!(await copyFileOutOfRoot(root, k.initrd, initrd, INITRD_CAP))) throw new ImageError(`${k.initrd} vanished from the image`);
  return { vmlinuz, initrd };
}
