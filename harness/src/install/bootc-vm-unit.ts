// Installer "bootc", VM placement: pure builders of what runs inside the installer VM (a
// oneshot VM, vm/oneshot-vm.ts): bootc's command line and the unit around it. No I/O.
//
// Why a VM: `--block-setup tpm2-luks` makes bootc run `systemd-cryptenroll --tpm2-device=auto`
// (crates/lib/src/install/baseline.rs), sealing the LUKS key to the TPM bootc sees: from the
// host, the host's TPM; in a VM owning the test boot's swtpm state, the test VM's TPM.
//
// The shape follows bcvk's `to-disk` (repository bootc-dev/bcvk):
//   crates/kit/src/to_disk.rs          the image boots as its own installer; the target a
//                                      virtio-blk disk, /dev/disk/by-id/virtio-<serial>; /var/tmp a
//                                      tmpfs as large as the target disk, holding /var/lib/containers
//                                      too, with swap that size
//   crates/kit/src/run_ephemeral.rs    direct kernel boot, the image's root shared by virtiofsd
//                                      (older versions: rootfstype=virtiofs root=rootfs; selinux=0);
//                                      units (its swap unit too) as SMBIOS credentials
//                                      systemd.extra-unit.* + systemd.unit-dropin.<target>~… Wants=
//   crates/kit/src/qemu.rs             memory-backend-memfd,share=on + -numa node,memdev=mem;
//                                      vhost-user-fs-pci,queue-size=1024,chardev=…,tag=…
//   crates/bcvk-qemu/src/virtiofsd.rs  --socket-path --shared-dir --cache --sandbox, --readonly
//                                      only when `virtiofsd --help` lists it
// Where this differs: bcvk shares the host's whole container storage as an additional image
// store and runs `podman run … bootc install to-disk` over SSH; here the VM gets the image under
// test alone, exported as an OCI layout (install/image-export.ts) and shared read-only, and bootc
// runs in the booted image with --source-imgref oci:<that share> (allowed outside a container:
// crates/lib/src/install.rs prepare_install) as a unit that prints a result line and powers the
// VM off. Needs systemd >= 256 in the image (systemd.extra-unit.*,
// systemd.unit-dropin.*: systemd.system-credentials(7)) and a systemd initrd that mounts a
// virtiofs root from root=/rootfstype= (systemd-fstab-generator(8)).
import { UsageError } from '../errors.js';
import { installerServiceUnit } from '../vm/oneshot-unit.js';
import { checkSerial, checkTag } from '../vm/qemu-args.js';
import { bootcInstallArgs, type BlockSetup, type RootFilesystem } from './bootc-command.js';
import { INSTALLER_IMAGE_DIR, INSTALLER_IMAGE_TAG, installerSourceImgref } from './image-export.js';
export const INSTALLER_UNIT = 'bootc-harness-install.service';
/** virtio-blk serial of the target disk in the installer VM: /dev/disk/by-id/virtio-<serial>. */
export const INSTALLER_TARGET_SERIAL = 'bh-target';
/** virtio-blk serial of the installer VM's swap disk. */
export const INSTALLER_SWAP_SERIAL = 'bh-swap';

// ---- the target disk and bootc's command line ------------------------------------------

/** The target disk as bootc sees it inside the VM. */
export function installerTargetDevice(serial: string): string {
  checkSerial(serial);
  return `/dev/disk/by-id/virtio-${serial}`;
}

export interface BootcInVmOptions {
  /** The image's name, for the record only (bootc installs from the exported layout). */
  imageRef: string;
  targetSerial: string;
  filesystem: RootFilesystem;
  kargs: readonly string[];
  composefsBackend: boolean;
  allowMissingVerity?: boolean;
  blockSetup?: BlockSetup;
  /** Default true, as on the host and in bcvk. */
  genericImage?: boolean;
  /** The image `bootc upgrade` would fetch (bootc-install-to-disk(8) --target-imgref); default: the source. */
  targetImgref?: string;
  /** An authorized_keys file inside the VM (ostree backend only; see rootKeyPlacement). */
  authorizedKeysPath?: string;
  /** The image's bootc version; undefined when unknown (bootc-command.ts FLAG_SINCE). */
  bootcVersion?: string;
}

/** `bootc install to-disk …` as run inside the installer VM (argv[0] is `bootc`). */
export function bootcInVmArgs(o: BootcInVmOptions): string[] {
  if (o.imageRef === '' || /\s/.test(o.imageRef) || o.imageRef.startsWith('-')) {
    throw new UsageError(`bad image reference ${JSON.stringify(o.imageRef)}`);
  }
  return bootcInstallArgs({
    imageRef: o.imageRef,
    targetDevice: installerTargetDevice(o.targetSerial),
    filesystem: o.filesystem,
    kargs: o.kargs,
    ...(o.authorizedKeysPath !== undefined ? { authorizedKeysPath: o.authorizedKeysPath } : {}),
    composefsBackend: o.composefsBackend,
    ...(o.allowMissingVerity ? { allowMissingVerity: true } : {}),
    ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
    viaLoopback: false,
    genericImage: o.genericImage ?? true,
    ...(o.targetImgref ? { targetImgref: o.targetImgref } : {}),
    ...(o.bootcVersion !== undefined ? { bootcVersion: o.bootcVersion } : {}),
    // The image alone, as the installer VM mounts its export (image-export.ts).
    sourceImgref: installerSourceImgref(),
  });
}

// ---- the install unit --------------------------------------------

export interface InstallerUnitOptions {
  /** From bootcInVmArgs: argv[0] `bootc` runs as /usr/bin/bootc. */
  bootcArgs: readonly string[];
  targetSerial: string;
  /** Wait for /dev/tpmrm0 before bootc starts (tpm2-luks). */
  waitForTpm: boolean;
  /** virtiofs tag of the exported image (image-export.ts INSTALLER_IMAGE_TAG). */
  imageTag?: string;
  /** RUST_LOG for bootc (bcvk's --install-log). */
  rustLog?: string;
  /** Seconds udevadm waits for the disk (and TPM). Default 120. */
  deviceTimeoutSec?: number;
  /** GiB of the /var/tmp tmpfs and of the swap disk (INSTALLER_SWAP_SERIAL) behind it; bcvk
   *  sizes both as the target disk. Unset: no swap, the tmpfs default (half the RAM). */
  scratchGiB?: number;
}

/** The unit that runs bootc install in the installer VM. */
export function installerUnit(o: InstallerUnitOptions): string {
  if (o.bootcArgs[0] !== 'bootc' || !o.bootcArgs.includes('install')) throw new UsageError('the installer unit runs bootc install');
  const device = installerTargetDevice(o.targetSerial);
  const imageTag = o.imageTag ?? INSTALLER_IMAGE_TAG;
  checkTag(imageTag);
  const gib = o.scratchGiB;
  if (gib !== undefined && (!Number.isInteger(gib) || gib < 1)) throw new UsageError(`bad scratch size ${gib} GiB`);
  const swap = gib !== undefined ? installerTargetDevice(INSTALLER_SWAP_SERIAL) : undefined;
  return installerServiceUnit({
    description: 'bootc install to-disk in the bootc-harness installer VM',
    exec: ['/usr/bin/bootc', ...o.bootcArgs.slice(1)],
    waitFor: [device, ...(swap ? [swap] : []), ...(o.waitForTpm ? ['/dev/tpmrm0'] : [])],
    // No additional image store: the VM's containers/storage holds only what bootc puts there.
    environment: [...(o.rustLog ? [`RUST_LOG=${o.rustLog}`] : [])],
    pre: [
      ['/usr/bin/mkdir', '-p', INSTALLER_IMAGE_DIR],
      ['/usr/bin/mount', '-t', 'virtiofs', '-o', 'ro,nodev,nosuid,noexec', imageTag, INSTALLER_IMAGE_DIR],
      // containers/image buffers a whole layer in /var/tmp (containers/container-libs#144, as
      // bcvk's to_disk.rs notes): a tmpfs there, with swap so it may outgrow the VM's RAM.
      ...(swap ? [['/usr/sbin/mkswap', '-q', swap], ['/usr/sbin/swapon', swap]] : []),
      ['/usr/bin/mount', '-t', 'tmpfs', '-o', `mode=1777${gib ? `,size=${gib}G` : ''}`, 'tmpfs', '/var/tmp'],
      // The VM's own graph root in that tmpfs too (bcvk symlinks it there): containers/storage
      // cannot keep an overlay store on the virtiofs root.
      ['/usr/bin/mkdir', '-p', '-m', '0700', '/var/tmp/containers', '/var/lib/containers'],
      ['/usr/bin/mount', '--bind', '/var/tmp/containers', '/var/lib/containers'],
    ],
    ...(o.deviceTimeoutSec !== undefined ? { deviceTimeoutSec: o.deviceTimeoutSec } : {}),
  });
}
