// Pure builders for the direct installer's disk: partition table, boot entry.
// Type GUIDs are the Discoverable Partitions Specification's, so systemd's
// generators would find the root even without root= on the command line.

export const ESP_MIB = 256;
export const ROOT_X86_64_GUID = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';

export interface DiskPlan {
  espMiB: number;
  rootMiB: number;
  /** Total size: 1 MiB before, 1 MiB after for the backup GPT. */
  totalMiB: number;
}

/** Root gets the image's size plus headroom, never less than the profile asks. */
export function planDisk(imageBytes: number, minDiskGiB: number): DiskPlan {
  const need = Math.ceil((imageBytes * 1.3) / 2 ** 20) + 1024;
  const rootMiB = Math.max(need, minDiskGiB * 1024 - ESP_MIB - 2);
  return { espMiB: ESP_MIB, rootMiB, totalMiB: 1 + ESP_MIB + rootMiB + 1 };
}

export function sfdiskScript(plan: DiskPlan): string {
  return [
    'label: gpt',
    `start=1MiB, size=${plan.espMiB}MiB, type=uefi, name=esp`,
    `size=${plan.rootMiB}MiB, type=${ROOT_X86_64_GUID}, name=root`,
    '',
  ].join('\n');
}

export function kernelCmdline(rootUuid: string, extra: readonly string[], opts: { readOnlyRoot?: boolean } = {}): string {
  // console=ttyS0 last so the serial console is /dev/console and the harness sees everything.
  // A composefs root is read-only: "ro" keeps systemd from trying to remount it writable
  // (the initramfs makes the physical root under it writable itself).
  return ['root=UUID=' + rootUuid, opts.readOnlyRoot ? 'ro' : 'rw', 'panic=-1', ...extra, 'console=tty0', 'console=ttyS0,115200'].join(' ');
}

export function blsEntry(title: string, release: string, cmdline: string): string {
  return [`title ${title}`, `version ${release}`, `linux /${release}/linux`, `initrd /${release}/initrd`, `options ${cmdline}`, ''].join('\n');
}

export function loaderConf(entryId: string): string {
  return ['timeout 0', `default ${entryId}.conf`, 'console-mode keep', ''].join('\n');
}
