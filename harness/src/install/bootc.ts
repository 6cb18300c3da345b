// Installer "bootc", host placement: the image installs itself with `bootc install
// to-disk --via-loopback` in a privileged podman container, onto a disk file in the
// run's work dir, exactly as bootc's docs tell users to. The command lines are built
// (and unit-tested) in bootc-args.ts; this module runs them and turns failures into
// clear errors. A tpm2-luks install needs the VM's TPM: installBootcInVm places it in an
// installer VM that has it.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionFailure, InfraError, UsageError } from '../errors.js';
import { mountedContainer } from '../image/buildah.js';
import { findKernel } from '../image/kernel.js';
import { resolveInRoot, writeFileInRoot } from '../image/in-root.js';
import { run, runChecked } from '../util/exec.js';
import { Teardown } from '../util/teardown.js';
import { requireTools } from '../util/tools.js';
import { bootcInstallCommand, checkBlockSetupAllowed, classifyPodmanFailure, type BlockSetup, type RootFilesystem } from './bootc-args.js';
import type { InstallOptions, InstalledDisk } from './direct.js';
import { INSTALLER_TARGET_SERIAL, bootcInVmArgs, installerUnit } from './bootc-vm.js';
import { runInstallerVm, type InstallerVmSettings } from './installer-vm.js';
import { rootKeyCredentialQemuArgs } from '../vm/credentials.js';

/** Where bootc reads install configs, lowest precedence first (bootc-install-config(5)). */
export const INSTALL_CONFIG_DIRS = ['usr/lib/bootc/install', 'usr/local/lib/bootc/install', 'etc/bootc/install', 'run/bootc/install'];

export interface BootcHostInstallOptions extends InstallOptions {
  imageRef: string;
  filesystem: RootFilesystem;
  composefsBackend: boolean;
  blockSetup?: BlockSetup;
}

export interface BootcInstalledDisk extends InstalledDisk {
  /** Extra QEMU arguments the test boot needs (the root SSH key as an SMBIOS credential). */
  qemuExtraArgs: string[];
}

/** The image's install configs (path inside the image, text). */
export function readInstallConfigs(mnt: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const dir of INSTALL_CONFIG_DIRS) {
    const abs = resolveInRoot(mnt, `/${dir}`);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs).filter((n) => n.endsWith('.toml')).sort()) {
      const file = resolveInRoot(mnt, `/${dir}/${f}`);
      if (existsSync(file)) out.push({ path: `/${dir}/${f}`, text: readFileSync(file, 'utf8') });
    }
  }
  return out;
}

/** The image's root, checked for what a bootc install needs: bootc, a kernel, an allowed block setup. */
async function openBootcImage(o: BootcHostInstallOptions, td: Teardown) {
  const ctr = await mountedContainer(o.imageId, `bh-${o.runId}-bootc`, td);
  if (!existsSync(resolveInRoot(ctr.mountpoint, '/usr/bin/bootc'))) throw new UsageError(`--installer bootc: image ${o.imageRef} has no /usr/bin/bootc`);
  // Checked whatever is asked for: --block-setup is always passed (direct by default).
  const why = checkBlockSetupAllowed(readInstallConfigs(ctr.mountpoint), o.blockSetup ?? 'direct');
  if (why) throw new UsageError(why);
  const kernel = findKernel(ctr.mountpoint);
  if (!kernel) throw new UsageError(`image ${o.imageRef} has no kernel`);
  const vmlinuz = join(o.workDir, 'vmlinuz');
  await runChecked(['cp', kernel.vmlinuz, vmlinuz], { stage: 'disk', signal: o.signal });
  return { mnt: ctr.mountpoint, kernel, vmlinuz };
}

function installedDisk(o: BootcHostInstallOptions, disk: string, release: string, vmlinuz: string): BootcInstalledDisk {
  return {
    path: disk,
    format: 'raw',
    kernel: { release, vmlinuz },
    cmdline: o.kargs.join(' '),
    // bootc's composefs backend ignores --root-ssh-authorized-keys: systemd provisions
    // root's key from this credential at boot (tmpfiles provision.conf), either backend.
    qemuExtraArgs: rootKeyCredentialQemuArgs(o.authorizedKey + '\n'),
  };
}

export async function installBootcOnHost(o: BootcHostInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const td = new Teardown();
  try {
    const { kernel, vmlinuz } = await openBootcImage(o, td);
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
    return installedDisk(o, disk, kernel.release, vmlinuz);
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
/** The key file as the installer VM sees it (ostree backend: --root-ssh-authorized-keys). */
const VM_AUTHORIZED_KEYS = '/var/tmp/bootc-harness-authorized_keys';

/** `bootc install to-disk` inside an installer VM booted from the image, with the test VM's TPM. */
export async function installBootcInVm(o: BootcVmInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const td = new Teardown();
  try {
    const { mnt, kernel, vmlinuz } = await openBootcImage(o, td);
    if (!kernel.initrd) throw new UsageError(`image ${o.imageRef} has kernel ${kernel.release} but no initramfs: the installer VM boots it`);
    writeFileInRoot(mnt, VM_AUTHORIZED_KEYS, o.authorizedKey + '\n', 0o600);
    const args = bootcInVmArgs({
      imageRef: o.imageRef,
      targetSerial: INSTALLER_TARGET_SERIAL,
      filesystem: o.filesystem,
      kargs: o.kargs,
      composefsBackend: o.composefsBackend,
      ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
      ...(o.composefsBackend ? {} : { authorizedKeysPath: VM_AUTHORIZED_KEYS }),
    });
    const disk = join(o.workDir, 'disk.raw');
    await runChecked(['truncate', '-s', `${o.minDiskGiB}G`, disk], S);
    const r = await runInstallerVm({
      ...o.vm,
      rootfs: mnt,
      kernel: kernel.vmlinuz,
      initrd: kernel.initrd,
      targetDisk: { path: disk, serial: INSTALLER_TARGET_SERIAL },
      tpmStateDir: o.tpmStateDir,
      storageDir: HOST_CONTAINER_STORAGE,
      unitText: installerUnit({ bootcArgs: args, targetSerial: INSTALLER_TARGET_SERIAL, waitForTpm: o.blockSetup === 'tpm2-luks' }),
      workDir: o.workDir,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.exitCode !== 0) throw new AssertionFailure('disk', `bootc install to-disk failed in the installer VM (exit ${r.status}, ${r.serviceResult}); console: ${r.consoleLog}`);
    await td.runOrThrow();
    return installedDisk(o, disk, kernel.release, vmlinuz);
  } finally {
    await td.run();
  }
}
