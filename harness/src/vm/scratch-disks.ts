// Empty disks for suites that need a block device of their own (a throwaway zpool):
// sparse raw files, named in the guest by their virtio serial, never by enumeration order.
import { closeSync, openSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';

/** An empty disk attached to the VM; `guestPath` is its stable name in the guest. */
export interface ScratchDisk {
  serial: string;
  sizeGiB: number;
  guestPath: string;
}

export const SCRATCH_DISK_GIB = 1;

/** Pure: the serial and guest path of scratch disk i. udev names virtio disks by serial under /dev/disk/by-id. */
export function scratchDiskSpec(i: number): ScratchDisk {
  const serial = `bh-scratch${i}`;
  return { serial, sizeGiB: SCRATCH_DISK_GIB, guestPath: `/dev/disk/by-id/virtio-${serial}` };
}

/** Creates `count` sparse scratch disks in dir; they go with the run's work dir. */
export function createScratchDisks(dir: string, count: number): { host: { path: string; format: 'raw'; serial: string }[]; guest: ScratchDisk[] } {
  const host = [];
  const guest = [];
  for (let i = 0; i < count; i++) {
    const spec = scratchDiskSpec(i);
    const path = join(dir, `${spec.serial}.raw`);
    const fd = openSync(path, 'w', 0o600);
    try {
      ftruncateSync(fd, spec.sizeGiB * 1024 ** 3);
    } finally {
      closeSync(fd);
    }
    host.push({ path, format: 'raw' as const, serial: spec.serial });
    guest.push(spec);
  }
  return { host, guest };
}
