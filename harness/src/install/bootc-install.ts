// Installer "bootc", host placement: the image installs itself with `bootc install
// to-disk --via-loopback` in a privileged podman container, onto a disk file in the
// run's work dir, exactly as bootc's docs tell users to. The command lines are built
// (and unit-tested) in bootc-command.ts; this module runs them and turns failures into
// clear errors. A tpm2-luks install needs the VM's TPM: installBootcInVm places it in an
// installer VM that has it. bootc's command line follows the image's bootc version, read from
// its package database (image/bootc-version.ts).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionFailure, InfraError, UsageError } from '../errors.js';
import { mountedContainer } from '../image/buildah.js';
import { copyKernelOut, findKernel } from '../image/kernel.js';
import { readBootcVersion } from '../image/bootc-version.js';
import { isFileInRoot, listDirInRoot, mkdirInRoot, readTextInRoot, writeFileInRoot } from '../image/in-root.js';
import { run, runChecked } from '../util/exec.js';
import { Teardown } from '../util/teardown.js';
import { requireTools } from '../util/tools.js';
import { bootcInstallCommand, checkBlockSetupAllowed, parseVersion, type BlockSetup, type RootFilesystem } from './bootc-command.js';
import type { InstallOptions, InstalledDisk, InstallerVmSettings } from './types.js';
import { installedComposefsDigest } from './boot-record.js';
import { INSTALLER_STORAGE_TAG, INSTALLER_SWAP_SERIAL, INSTALLER_TARGET_SERIAL, INSTALLER_UNIT, bootcInVmArgs, installerUnit } from './bootc-vm-unit.js';
import { parseInstallResult } from '../vm/oneshot-unit.js';
import { runOneshotVm } from '../vm/oneshot-vm.js';
import { rootKeyCredentialQemuArgs } from '../vm/credentials.js';

/** Where bootc reads install configs, lowest precedence first (bootc-install-config(5)). */
export const INSTALL_CONFIG_DIRS = ['usr/lib/bootc/install', 'usr/local/lib/bootc/install', 'etc/bootc/install', 'run/bootc/install'];

export interface BootcHostInstallOptions extends InstallOptions {
  imageRef: string;
  filesystem: RootFilesystem;
  composefsBackend: boolean;
  blockSetup?: BlockSetup;
  /** The run log: the image's bootc version (or that it is unknown), an unsigned retry. */
  log?: (line: string) => void;
}

export interface BootcInstalledDisk extends InstalledDisk {
  /** Extra QEMU arguments the test boot needs (the root SSH key as an SMBIOS credential). */
  qemuExtraArgs: string[];
}

/** The image's install configs (path inside the image, text), read through the safe opener:
 *  a config that is a FIFO, a device or a link out of the image is refused or read inside it. */
export async function readInstallConfigs(mnt: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for (const dir of INSTALL_CONFIG_DIRS) {
    for (const { name } of ((await listDirInRoot(mnt, `/${dir}`)) ?? []).filter((e) => e.name.endsWith('.toml'))) {
      const text = await readTextInRoot(mnt, `/${dir}/${name}`);
      if (text !== undefined) out.push({ path: `/${dir}/${name}`, text });
    }
  }
  return out;
}

/** The image's root, checked for what a bootc install needs: bootc, a kernel, an allowed block setup. */
async function openBootcImage(o: BootcHostInstallOptions, td: Teardown) {
  const ctr = await mountedContainer(o.imageId, `bh-${o.runId}-bootc`, td);
  if (!(await isFileInRoot(ctr.mountpoint, '/usr/bin/bootc'))) throw new UsageError(`--installer bootc: image ${o.imageRef} has no /usr/bin/bootc`);
  // Checked whatever is asked for: --block-setup is always passed (direct by default).
  const why = checkBlockSetupAllowed(await readInstallConfigs(ctr.mountpoint), o.blockSetup ?? 'direct');
  if (why) throw new UsageError(why);
  const kernel = await findKernel(ctr.mountpoint);
  if (!kernel) throw new UsageError(`image ${o.imageRef} has no kernel`);
  const v = await readBootcVersion(ctr.mountpoint, 'disk');
  const bootcVersion = v.version !== undefined && parseVersion(v.version) ? v.version : undefined;
  o.log?.(
    bootcVersion
      ? `disk: image bootc ${bootcVersion} (${v.from})`
      : `disk: bootc version of ${o.imageRef} unknown (${v.version ? `unreadable "${v.version}" in ${v.from}` : v.from}): passing every flag the run needs, unchecked`,
  );
  // Copied out: QEMU's -kernel/-initrd and the kernel probe read the copies, never a name in the image.
  td.defer('remove the initrd copy', () => rmSync(join(o.workDir, 'initrd.img'), { force: true }));
  const copies = await copyKernelOut(ctr.mountpoint, kernel, o.workDir);
  return { mnt: ctr.mountpoint, kernel: { release: kernel.release, ...copies }, vmlinuz: copies.vmlinuz, ...(bootcVersion ? { bootcVersion } : {}) };
}

async function installedDisk(o: BootcHostInstallOptions, disk: string, release: string, vmlinuz: string): Promise<BootcInstalledDisk> {
  // The composefs backend's record of what it laid out: the digest in the boot entries it
  // wrote, read off the disk on the host; tier 4 holds the booted guest to it.
  let composefsDigest: string | undefined;
  if (o.composefsBackend) {
    const r = await installedComposefsDigest(disk, o.signal);
    if (!r.digest) throw new AssertionFailure('disk', `bootc's composefs backend wrote ${r.found.length ? `several composefs= digests (${r.found.join(', ')})` : 'no composefs=<digest>'} into the boot entries of the disk (ESP loader/entries, EFI/Linux UKIs, /boot loader/entries)`);
    composefsDigest = r.digest;
  }
  return {
    path: disk,
    format: 'raw',
    kernel: { release, vmlinuz },
    cmdline: o.kargs.join(' '),
    ...(composefsDigest ? { composefsDigest } : {}),
    // bootc's composefs backend ignores --root-ssh-authorized-keys: systemd provisions
    // root's key from this credential at boot (tmpfiles provision.conf), either backend.
    qemuExtraArgs: rootKeyCredentialQemuArgs(o.authorizedKey + '\n'),
  };
}

export async function installBootcOnHost(o: BootcHostInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const td = new Teardown();
  try {
    const { kernel, vmlinuz, bootcVersion } = await openBootcImage(o, td);
    const disk = join(o.workDir, 'disk.raw');
    writeFileSync(join(o.workDir, 'authorized_keys'), o.authorizedKey + '\n', { mode: 0o600 });
    // Throws UsageError for what cannot work (tpm2-luks via loopback would bind the host's TPM).
    const argv = bootcInstallCommand(
      {
        imageRef: o.imageRef,
        targetDevice: '/output/disk.raw',
        filesystem: o.filesystem,
        kargs: o.kargs,
        authorizedKeysPath: '/output/authorized_keys',
        composefsBackend: o.composefsBackend,
        ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
        viaLoopback: true,
        genericImage: true,
        ...(bootcVersion ? { bootcVersion } : {}),
      },
      [{ host: o.workDir, guest: '/output' }],
    );
    requireTools(['podman']);
    await runChecked(['truncate', '-s', `${o.minDiskGiB}G`, disk], S);
    const r = await run(argv, S);
    if (r.exitCode !== 0) {
      const host = classifyPodmanFailure(r.stderr);
      if (host) throw new InfraError('disk', host);
      const tail = r.stderr.trim().split('\n').slice(-8).join('\n');
      throw new AssertionFailure('disk', `bootc install to-disk failed (exit ${r.exitCode}):\n${tail}`);
    }
    await td.runOrThrow();
    return await installedDisk(o, disk, kernel.release, vmlinuz);
  } finally {
    await td.run();
  }
}

export interface BootcVmInstallOptions extends BootcHostInstallOptions {
  /** The swtpm state the test boot will use: tpm2-luks binds to it. */
  tpmStateDir: string;
  vm: InstallerVmSettings;
}

/** Where bootc finds the image inside the installer VM: the host's storage, shared read-only. */
export const HOST_CONTAINER_STORAGE = '/var/lib/containers/storage';
/** The key file as the installer VM sees it (ostree backend: --root-ssh-authorized-keys); not
 *  in /var/tmp, which the installer unit covers with a tmpfs. */
const VM_AUTHORIZED_KEYS = '/var/lib/bootc-harness/authorized_keys';

/** containers/image's reason for not rewriting a signed image's manifest (copy/single.go); the
 *  text bcvk's to_disk.rs greps bootc's stderr for before its one retry. */
export const SIGNATURE_REFUSAL = 'Would invalidate signatures';

/** Whether a failed install (the installer VM's console) is retried once from an unsigned copy. */
export function retryWithoutSignatures(consoleText: string, alreadyUnsigned: boolean): boolean {
  const r = parseInstallResult(consoleText);
  return !alreadyUnsigned && r !== undefined && r.exitCode !== 0 && consoleText.includes(SIGNATURE_REFUSAL);
}

/** The image copied onto itself without signatures, into the VM's own store, which a
 *  containers-storage: lookup reads before the additional (host) store. --insecure-policy stands
 *  for bcvk's accept-anything policy.json, without writing into the image root. */
export function unsignedCopyArgs(sourceImgref: string): string[] {
  if (!/^containers-storage:[^\s-]\S*$/.test(sourceImgref)) throw new UsageError(`not a containers-storage: reference: ${JSON.stringify(sourceImgref)}`);
  return ['/usr/bin/skopeo', '--insecure-policy', 'copy', '--remove-signatures', sourceImgref, sourceImgref];
}

/** `bootc install to-disk` inside an installer VM booted from the image, with the test VM's TPM. */
export async function installBootcInVm(o: BootcVmInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const log = o.log ?? o.vm.log;
  const td = new Teardown();
  try {
    const { mnt, kernel, vmlinuz, bootcVersion } = await openBootcImage({ ...o, ...(log ? { log } : {}) }, td);
    if (!kernel.initrd) throw new UsageError(`image ${o.imageRef} has kernel ${kernel.release} but no initramfs: the installer VM boots it`);
    await mkdirInRoot(mnt, VM_AUTHORIZED_KEYS.slice(0, VM_AUTHORIZED_KEYS.lastIndexOf('/')), 0o700);
    await writeFileInRoot(mnt, VM_AUTHORIZED_KEYS, o.authorizedKey + '\n', 0o600);
    const args = bootcInVmArgs({
      imageRef: o.imageRef,
      targetSerial: INSTALLER_TARGET_SERIAL,
      filesystem: o.filesystem,
      kargs: o.kargs,
      composefsBackend: o.composefsBackend,
      ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
      ...(o.composefsBackend ? {} : { authorizedKeysPath: VM_AUTHORIZED_KEYS }),
      ...(bootcVersion ? { bootcVersion } : {}),
    });
    const disk = join(o.workDir, 'disk.raw');
    await runChecked(['truncate', '-s', `${o.minDiskGiB}G`, disk], S);
    const attempt = (unsigned: boolean) =>
      runOneshotVm({
        ...o.vm,
        rootfs: mnt,
        kernel: kernel.vmlinuz,
        initrd: kernel.initrd!,
        disks: [{ path: disk, serial: INSTALLER_TARGET_SERIAL }],
        tpmStateDir: o.tpmStateDir,
        // bootc reads the image from the host's storage (--source-imgref containers-storage:).
        shares: [{ tag: INSTALLER_STORAGE_TAG, dir: HOST_CONTAINER_STORAGE, readOnly: true }],
        // bcvk's to-disk sizes the /var/tmp tmpfs and its swap as the target disk.
        swap: { gib: o.minDiskGiB, serial: INSTALLER_SWAP_SERIAL },
        unit: {
          name: INSTALLER_UNIT,
          text: installerUnit({
            bootcArgs: args,
            targetSerial: INSTALLER_TARGET_SERIAL,
            waitForTpm: o.blockSetup === 'tpm2-luks',
            scratchGiB: o.minDiskGiB,
            ...(unsigned ? { preInstall: [unsignedCopyArgs(`containers-storage:${o.imageRef}`)] } : {}),
          }),
        },
        workDir: o.workDir,
        ...(o.signal ? { signal: o.signal } : {}),
      });
    let r = await attempt(false);
    const console1 = existsSync(r.consoleLog) ? readFileSync(r.consoleLog, 'utf8') : '';
    const unsigned = retryWithoutSignatures(console1, false);
    if (unsigned) {
      log?.(`disk: bootc refused the signed image ("${SIGNATURE_REFUSAL}"): once more from an unsigned copy (skopeo copy --remove-signatures), as bcvk does`);
      r = await attempt(true);
    }
    if (r.exitCode !== 0) {
      const how = `exit ${r.status}, ${r.serviceResult}${unsigned ? ', from an unsigned copy' : ''}`;
      throw new AssertionFailure('disk', `bootc install to-disk failed in the installer VM (${how}); console: ${r.consoleLog}`);
    }
    await td.runOrThrow();
    return await installedDisk(o, disk, kernel.release, vmlinuz);
  } finally {
    await td.run();
  }
}

// ---- podman's own failures ---------------------------------------------------------

// Only podman's lines count: "Error: …" (capital E) or logrus "level=error"/"ERRO[…]".
// bootc's own failures print "error: …" and are about the image, not the host.
const PODMAN_ERROR_LINE = /^\s*(Error: |ERRO\[\d+\]|time="[^"]*" level=(error|fatal) )/;

const PODMAN_RULES: readonly [RegExp, string][] = [
  [/cgroup/i, 'the OCI runtime cannot create the container cgroup'],
  [/newuidmap|newgidmap|cannot set up namespace|user namespace|cannot clone|cannot re-exec|unshare/i, 'cannot create the container namespaces (rootless podman, or inside an unprivileged container?)'],
  [/rootless/i, 'bootc install needs rootful podman'],
  [/apparmor|seccomp/i, 'a host security policy refused the container'],
  [/OCI runtime|crun: |runc: |conmon/i, 'the OCI runtime could not start the container'],
  [/operation not permitted|permission denied/i, 'the host refused a privileged operation'],
];

/** A one-line reason when podman itself cannot run the privileged install container here. */
export function classifyPodmanFailure(stderr: string): string | undefined {
  for (const line of stderr.split('\n')) {
    if (!PODMAN_ERROR_LINE.test(line)) continue;
    const cap = /\bCAP_[A-Z_]+\b/.exec(line);
    const rule = PODMAN_RULES.find(([re]) => re.test(line));
    if (!rule && !cap) continue;
    const why = cap && /not permitted|denied/i.test(line) ? `missing capability ${cap[0]}` : rule ? rule[1] : `missing capability ${cap![0]}`;
    const detail = line.trim().replace(/\s+/g, ' ');
    return `podman cannot run a privileged container on this host: ${why} (${detail.length > 160 ? detail.slice(0, 159) + '…' : detail})`;
  }
  return undefined;
}
