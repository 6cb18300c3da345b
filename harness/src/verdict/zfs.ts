// zfs.module-matches-kernel, judged against the host's reading of the image: the pre stage's
// probe reads the zfs module's vermagic from the image with the host's modinfo (run context
// `zfsVermagic`); the booted guest's module must say the same, and be for the kernel it runs.
// zfs.userland-matches-module likewise: the loaded module's version is the one the host read from
// the image's module (`zfsModuleVersion`), and the userland's is that same version.

/** Pure: vermagic's release, its first word ("6.12.57+deb13-amd64 SMP preempt mod_unload modversions"). */
export function vermagicRelease(vermagic: string): string {
  return vermagic.trim().split(/\s+/)[0] ?? '';
}

/** Pure: why the guest's zfs module is not the one the host read from the image, or undefined when it is. */
export function zfsVermagicMismatch(guestVermagic: string, imageVermagic: string | undefined, guestRelease: string): string | undefined {
  const guest = guestVermagic.trim().replace(/\s+/g, ' ');
  if (!guest) return 'ZFS: the guest has no zfs module (modinfo printed no vermagic)';
  if (!imageVermagic) return `ZFS: the host read no zfs module vermagic from the image, so the guest's (${guest}) cannot be judged`;
  const image = imageVermagic.trim().replace(/\s+/g, ' ');
  if (guest !== image) return `ZFS: the guest's zfs module has vermagic "${guest}", the image's (read on the host) "${image}"`;
  if (vermagicRelease(guest) !== guestRelease) return `ZFS: the zfs module was built for ${vermagicRelease(guest)}, the guest runs ${guestRelease}`;
  return undefined;
}

/** Pure: "2.3.2-2" from `zfs version`'s userland line ("zfs-2.3.2-2"; the kmod line is "zfs-kmod-…"). */
export function zfsUserlandVersion(out: string): string | undefined {
  return /^zfs-(?!kmod-)(\S+)$/m.exec(out)?.[1];
}

/** Pure: why the guest's zfs userland and loaded module are not the image's module version, or undefined when both are. */
export function zfsVersionMismatch(zfsVersionOutput: string, loadedVersion: string, imageModuleVersion: string | undefined): string | undefined {
  const userland = zfsUserlandVersion(zfsVersionOutput);
  if (!userland) return `ZFS: cannot read the userland version from "zfs version": ${zfsVersionOutput.trim() || '(nothing)'}`;
  const loaded = loadedVersion.trim();
  if (!loaded) return 'ZFS: the zfs module is not loaded (no /sys/module/zfs/version)';
  if (!imageModuleVersion) return `ZFS: the host read no zfs module version from the image, so the guest's (${loaded}) cannot be judged`;
  if (loaded !== imageModuleVersion) return `ZFS: the loaded zfs module is ${loaded}, the image's module (read on the host) ${imageModuleVersion}`;
  if (userland !== loaded) return `ZFS: userland zfs-${userland} does not match the loaded module ${loaded}`;
  return undefined;
}
