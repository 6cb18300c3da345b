// Installer "bootc", VM placement: pure builders (argv arrays, a unit file, a console
// parser) for running `bootc install to-disk` inside an "installer VM". No I/O.
//
// Why a VM: `--block-setup tpm2-luks` makes bootc run `systemd-cryptenroll --tpm2-device=auto`
// (crates/lib/src/install/baseline.rs), sealing the LUKS key to the TPM bootc sees: from the
// host, the host's TPM; in a VM owning the test boot's swtpm state, the test VM's TPM.
//
// The shape follows bcvk's `to-disk` (repository bootc-dev/bcvk):
//   crates/kit/src/to_disk.rs          the image boots as its own installer; host container storage
//                                      shared read-only as an additional image store; the target a
//                                      virtio-blk disk, /dev/disk/by-id/virtio-<serial>; /var/tmp a
//                                      tmpfs as large as the target disk, holding /var/lib/containers
//                                      too, with swap that size; one retry on "Would invalidate
//                                      signatures" from a `skopeo copy --remove-signatures` copy
//   crates/kit/src/run_ephemeral.rs    direct kernel boot, the image's root shared by virtiofsd
//                                      (older versions: rootfstype=virtiofs root=rootfs; selinux=0);
//                                      units (its swap unit too) as SMBIOS credentials
//                                      systemd.extra-unit.* + systemd.unit-dropin.<target>~… Wants=
//   crates/kit/src/qemu.rs             memory-backend-memfd,share=on + -numa node,memdev=mem;
//                                      vhost-user-fs-pci,queue-size=1024,chardev=…,tag=…
//   crates/bcvk-qemu/src/virtiofsd.rs  --socket-path --shared-dir --cache --sandbox, --readonly
//                                      only when `virtiofsd --help` lists it
// Where this differs: bcvk runs `podman run … bootc install to-disk` over SSH; here bootc runs in
// the booted image with --source-imgref containers-storage:<ref> (allowed outside a container:
// crates/lib/src/install.rs prepare_install) as a unit that prints a result line and powers the
// VM off; a retry is a second boot. Needs systemd >= 256 in the image (systemd.extra-unit.*,
// systemd.unit-dropin.*: systemd.system-credentials(7)) and a systemd initrd that mounts a
// virtiofs root from root=/rootfstype= (systemd-fstab-generator(8)).
import { UsageError } from '../errors.js';
import { machineArgs, qemuValue as v, type Accel } from '../vm/qemu-args.js';
import { systemdCredentialArgs } from '../vm/credentials.js';
import { INSTALL_RESULT_PORT, installerServiceUnit } from '../vm/oneshot-unit.js';
import { absolute } from '../vm/virtiofsd.js';
import { bootcInstallArgs, SERIAL_CONSOLE_KARG, type BlockSetup, type RootFilesystem } from './bootc-command.js';

/** virtiofs tag of the image's root filesystem (the kernel's root=). */
export const INSTALLER_ROOTFS_TAG = 'rootfs';
/** virtiofs tag of the host's container storage (bcvk's name). */
export const INSTALLER_STORAGE_TAG = 'hoststorage';
/** Where the installer unit mounts the host's container storage, read-only. */
export const INSTALLER_STORAGE_DIR = '/run/bootc-harness/hoststorage';
export const INSTALLER_UNIT = 'bootc-harness-install.service';
/** virtio-blk serial of the target disk in the installer VM: /dev/disk/by-id/virtio-<serial>. */
export const INSTALLER_TARGET_SERIAL = 'bh-target';
/** virtio-blk serial of the installer VM's swap disk. */
export const INSTALLER_SWAP_SERIAL = 'bh-swap';
/** x86 COMMAND_LINE_SIZE, including the terminating NUL. */
const KERNEL_CMDLINE_MAX = 2048;

// ---- the target disk and bootc's command line ------------------------------------------

/** virtio-blk serials are at most 20 bytes (VIRTIO_BLK_ID_BYTES); udev names the disk by it. */
function checkSerial(serial: string): void {
  if (!/^[A-Za-z0-9_-]{1,20}$/.test(serial)) throw new UsageError(`bad virtio-blk serial ${JSON.stringify(serial)}: 1-20 of [A-Za-z0-9_-]`);
}

/** The target disk as bootc sees it inside the VM. */
export function installerTargetDevice(serial: string): string {
  checkSerial(serial);
  return `/dev/disk/by-id/virtio-${serial}`;
}

export interface BootcInVmOptions {
  /** The image in the host's containers-storage (bare reference, e.g. localhost/x:tag). */
  imageRef: string;
  targetSerial: string;
  filesystem: RootFilesystem;
  kargs: readonly string[];
  composefsBackend: boolean;
  allowMissingVerity?: boolean;
  blockSetup?: BlockSetup;
  /** Default true, as on the host and in bcvk. */
  genericImage?: boolean;
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
  if (o.imageRef.startsWith('containers-storage:')) throw new UsageError('pass the bare image reference; the transport is added here');
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
    // bcvk's to_disk.rs: `containers-storage:<image>`, found through the additional image store.
    sourceImgref: `containers-storage:${o.imageRef}`,
  });
}

// ---- kernel command line --------------------------------------------------------------

export interface InstallerKargsOptions {
  rootTag?: string;
  extra?: readonly string[];
}

/** The installer VM's kernel arguments, one per element (installerVmQemuArgs joins them). */
export function installerVmKargs(o: InstallerKargsOptions = {}): string[] {
  const tag = o.rootTag ?? INSTALLER_ROOTFS_TAG;
  checkTag(tag);
  const kargs = [
    SERIAL_CONSOLE_KARG,
    // systemd-fstab-generator(8) in the initrd makes these sysroot.mount (bcvk's older kargs).
    'rootfstype=virtiofs',
    `root=${tag}`,
    // Writable: the share is a throwaway working container's mount; no write reaches the image.
    'rw',
    // bootc-dev/bcvk#22: SELinux off in the installer VM (bcvk's ephemeral VMs do the same).
    'selinux=0',
    // bcvk: keep journald off the virtiofs root; bootupd's updater needs a block-device /boot.
    'systemd.mask=systemd-journal-flush.service',
    'systemd.mask=bootloader-update.service',
    // kernel-command-line(7): never prompt on the console for first-boot settings.
    'systemd.firstboot=off',
    // A panic reboots at once, and -no-reboot turns that into QEMU exiting.
    'panic=-1',
  ];
  for (const k of o.extra ?? []) {
    if (k === '' || /\s/.test(k)) throw new UsageError(`bad kernel argument ${JSON.stringify(k)}`);
    if (!kargs.includes(k)) kargs.push(k);
  }
  return kargs;
}

function checkTag(tag: string): void {
  // virtio-fs tags are at most 36 bytes (the device config field).
  if (!/^[A-Za-z0-9_-]{1,36}$/.test(tag)) throw new UsageError(`bad virtiofs tag ${JSON.stringify(tag)}`);
}

// ---- the install unit, as SMBIOS credentials --------------------------------------------

export interface InstallerUnitOptions {
  /** From bootcInVmArgs: argv[0] `bootc` runs as /usr/bin/bootc. */
  bootcArgs: readonly string[];
  targetSerial: string;
  /** Wait for /dev/tpmrm0 before bootc starts (tpm2-luks). */
  waitForTpm: boolean;
  storageTag?: string;
  /** RUST_LOG for bootc (bcvk's --install-log). */
  rustLog?: string;
  /** Seconds udevadm waits for the disk (and TPM). Default 120. */
  deviceTimeoutSec?: number;
  /** GiB of the /var/tmp tmpfs and of the swap disk (INSTALLER_SWAP_SERIAL) behind it; bcvk
   *  sizes both as the target disk. Unset: no swap, the tmpfs default (half the RAM). */
  scratchGiB?: number;
  /** More steps once the stores are mounted, before bootc (bootc-install.ts unsignedCopyArgs). */
  preInstall?: readonly (readonly string[])[];
}

/** The unit that runs bootc install in the installer VM. */
export function installerUnit(o: InstallerUnitOptions): string {
  if (o.bootcArgs[0] !== 'bootc' || !o.bootcArgs.includes('install')) throw new UsageError('the installer unit runs bootc install');
  const device = installerTargetDevice(o.targetSerial);
  const storageTag = o.storageTag ?? INSTALLER_STORAGE_TAG;
  checkTag(storageTag);
  const gib = o.scratchGiB;
  if (gib !== undefined && (!Number.isInteger(gib) || gib < 1)) throw new UsageError(`bad scratch size ${gib} GiB`);
  const swap = gib !== undefined ? installerTargetDevice(INSTALLER_SWAP_SERIAL) : undefined;
  return installerServiceUnit({
    description: 'bootc install to-disk in the bootc-harness installer VM',
    exec: ['/usr/bin/bootc', ...o.bootcArgs.slice(1)],
    waitFor: [device, ...(swap ? [swap] : []), ...(o.waitForTpm ? ['/dev/tpmrm0'] : [])],
    environment: [`STORAGE_OPTS=additionalimagestore=${INSTALLER_STORAGE_DIR}`, ...(o.rustLog ? [`RUST_LOG=${o.rustLog}`] : [])],
    pre: [
      ['/usr/bin/mkdir', '-p', INSTALLER_STORAGE_DIR],
      ['/usr/bin/mount', '-t', 'virtiofs', '-o', 'ro', storageTag, INSTALLER_STORAGE_DIR],
      // containers/image buffers a whole layer in /var/tmp (containers/container-libs#144, as
      // bcvk's to_disk.rs notes): a tmpfs there, with swap so it may outgrow the VM's RAM.
      ...(swap ? [['/usr/sbin/mkswap', '-q', swap], ['/usr/sbin/swapon', swap]] : []),
      ['/usr/bin/mount', '-t', 'tmpfs', '-o', `mode=1777${gib ? `,size=${gib}G` : ''}`, 'tmpfs', '/var/tmp'],
      // The VM's own graph root in that tmpfs too (bcvk symlinks it there): containers/storage
      // cannot keep an overlay store on the virtiofs root.
      ['/usr/bin/mkdir', '-p', '-m', '0700', '/var/tmp/containers', '/var/lib/containers'],
      ['/usr/bin/mount', '--bind', '/var/tmp/containers', '/var/lib/containers'],
      ...(o.preInstall ?? []),
    ],
    ...(o.deviceTimeoutSec !== undefined ? { deviceTimeoutSec: o.deviceTimeoutSec } : {}),
  });
}

/** The unit as systemd.extra-unit.<name>, pulled in by a multi-user.target drop-in
 *  (systemd-debug-generator(8); an extra unit with only [Install] is never enabled). */
export function installerUnitCredentialArgs(unitText: string): string[] {
  if (!unitText.includes('[Service]')) throw new UsageError('not a service unit');
  return [
    ...systemdCredentialArgs(`systemd.extra-unit.${INSTALLER_UNIT}`, unitText),
    ...systemdCredentialArgs('systemd.unit-dropin.multi-user.target~bootc-harness-install', `[Unit]\nWants=${INSTALLER_UNIT}\n`),
  ];
}

// ---- QEMU -----------------------------------------------------------------------------

/** The installer VM's QEMU command line (installerVmQemuArgs); what runs it is installer-vm.ts's InstallerVmOptions. */
export interface InstallerQemuOptions {
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  /** The image's own kernel and initramfs (copied out of the image). */
  kernel: string;
  initrd: string;
  /** installerVmKargs(); passed as one -append string. */
  kargs: readonly string[];
  rootfsSocket: string;
  storageSocket: string;
  targetDisk: { path: string; format: 'raw' | 'qcow2'; serial: string };
  /** A raw swap disk (installerUnit's scratchGiB). */
  swapDisk?: { path: string; serial: string };
  /** The swtpm socket of the state directory the test boot will use. */
  tpmSocket?: string;
  /** UEFI pflash as in qemuArgs (see the PCR note in the report); default: QEMU's SeaBIOS. */
  firmware?: { code: string; vars: string };
  /** Also copy the serial console into this file. */
  consoleLog?: string;
  /** Receive the result line on a virtio-serial port, written to this file. */
  resultFile?: string;
  qmpSocket?: string;
  /** Appended verbatim: installerUnitCredentialArgs() goes here. */
  extraArgs?: readonly string[];
}

/** The installer VM: direct kernel boot, virtiofs root, target disk, the test VM's swtpm, no network. */
export function installerVmQemuArgs(o: InstallerQemuOptions): string[] {
  if (!Number.isInteger(o.cpus) || o.cpus < 1) throw new UsageError(`bad cpu count ${o.cpus}`);
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < 256) throw new UsageError(`bad memory size ${o.memoryMiB} MiB`);
  const paths: [string, string | undefined][] = [
    ['kernel', o.kernel], ['initrd', o.initrd], ['rootfs socket', o.rootfsSocket], ['storage socket', o.storageSocket],
    ['target disk', o.targetDisk.path], ['swap disk', o.swapDisk?.path], ['tpm socket', o.tpmSocket],
    ['firmware code', o.firmware?.code], ['firmware vars', o.firmware?.vars],
    ['console log', o.consoleLog], ['result file', o.resultFile], ['qmp socket', o.qmpSocket],
  ];
  for (const [what, p] of paths) if (p !== undefined) absolute(what, p);
  for (const d of [o.targetDisk, ...(o.swapDisk ? [o.swapDisk] : [])]) checkSerial(d.serial);
  for (const k of o.kargs) {
    if (k === '' || /\s/.test(k)) throw new UsageError(`bad kernel argument ${JSON.stringify(k)}`);
  }
  const cmdline = o.kargs.join(' ');
  if (cmdline.length >= KERNEL_CMDLINE_MAX) throw new UsageError(`kernel command line is ${cmdline.length} bytes; x86 takes ${KERNEL_CMDLINE_MAX - 1}`);

  const args = [
    'qemu-system-x86_64',
    '-name', 'bootc-harness-installer',
    ...machineArgs(o),
    // vhost-user-fs: virtiofsd maps guest RAM, so it must be shared memory.
    '-object', `memory-backend-memfd,id=mem,size=${o.memoryMiB}M,share=on`,
    '-numa', 'node,memdev=mem',
    '-nodefaults',
    '-display', 'none',
    '-no-user-config',
    // SuccessAction/FailureAction=poweroff end the VM; a reboot (panic=-1) ends it too.
    '-no-reboot',
    '-chardev', `stdio,id=console,signal=off${o.consoleLog ? `,logfile=${v(o.consoleLog)},logappend=off` : ''}`,
    '-serial', 'chardev:console',
  ];
  if (o.qmpSocket) args.push('-qmp', `unix:${v(o.qmpSocket)},server=on,wait=off`);
  if (o.firmware) {
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${v(o.firmware.code)}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${v(o.firmware.vars)}`);
  }
  args.push('-kernel', o.kernel, '-initrd', o.initrd, '-append', cmdline);
  for (const [tag, socket] of [
    [INSTALLER_ROOTFS_TAG, o.rootfsSocket],
    [INSTALLER_STORAGE_TAG, o.storageSocket],
  ] as const) {
    args.push('-chardev', `socket,id=vfs-${tag},path=${v(socket)}`);
    args.push('-device', `vhost-user-fs-pci,queue-size=1024,chardev=vfs-${tag},tag=${tag}`);
  }
  args.push('-drive', `file=${v(o.targetDisk.path)},format=${o.targetDisk.format},if=none,id=target,cache=unsafe,discard=unmap`);
  args.push('-device', `virtio-blk-pci,drive=target,serial=${o.targetDisk.serial}`);
  if (o.swapDisk) {
    args.push('-drive', `file=${v(o.swapDisk.path)},format=raw,if=none,id=swap,cache=unsafe,discard=unmap`);
    args.push('-device', `virtio-blk-pci,drive=swap,serial=${o.swapDisk.serial}`);
  }
  // cryptsetup and mkfs want entropy early.
  args.push('-device', 'virtio-rng-pci');
  if (o.tpmSocket) {
    args.push('-chardev', `socket,id=tpmchr,path=${v(o.tpmSocket)}`, '-tpmdev', 'emulator,id=tpm0,chardev=tpmchr', '-device', 'tpm-crb,tpmdev=tpm0');
  }
  if (o.resultFile) {
    args.push('-device', 'virtio-serial-pci,id=vser0');
    args.push('-chardev', `file,id=result,path=${v(o.resultFile)}`);
    args.push('-device', `virtserialport,bus=vser0.0,chardev=result,name=${INSTALL_RESULT_PORT}`);
  }
  args.push(...(o.extraArgs ?? []));
  return args;
}
