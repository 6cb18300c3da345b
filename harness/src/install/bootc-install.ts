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
import type { BootcInstallRecord, InstallOptions, InstalledDisk, InstallerVmSettings } from './types.js';
import { bootcBackendOf, ostreeRootExpectation, readPrepareRoot, ukisOf, type BootcBackendChoice } from './bootc-backend.js';
import { installedComposefsDigest } from './boot-record.js';
import { sealedRootOf, type SealedRoot } from './luks-header.js';
import { ostreeDeploymentsOf } from './ostree-record.js';
import { INSTALLER_SWAP_SERIAL, INSTALLER_TARGET_SERIAL, INSTALLER_UNIT, bootcInVmArgs, installerUnit } from './bootc-vm-unit.js';
import { INSTALLER_IMAGE_TAG, exportImageForInstaller, exportPaths } from './image-export.js';
import { runOneshotVm } from '../vm/oneshot-vm.js';
import { rootKeyCredentialQemuArgs } from '../vm/credentials.js';

/** Where bootc reads install configs, lowest precedence first (bootc-install-config(5)). */
export const INSTALL_CONFIG_DIRS = ['usr/lib/bootc/install', 'usr/local/lib/bootc/install', 'etc/bootc/install', 'run/bootc/install'];

export interface BootcHostInstallOptions extends InstallOptions {
  imageRef: string;
  filesystem: RootFilesystem;
  /** bootc's backend as asked; `auto`: the image decides (bootc-backend.ts). */
  backend: BootcBackendChoice;
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

/** Names in one of the image's directories ([] when it has none). */
async function namesIn(mnt: string, dir: string): Promise<string[]> {
  return ((await listDirInRoot(mnt, dir)) ?? []).map((e) => e.name);
}

/** The image's prepare-root.conf files, lowest precedence first (ostree's otcore_load_config order). */
export async function readPrepareRootConfs(mnt: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for (const path of ['/usr/lib/ostree/prepare-root.conf', '/etc/ostree/prepare-root.conf']) {
    const text = await readTextInRoot(mnt, path);
    if (text !== undefined) out.push({ path, text });
  }
  return out;
}

/** The backend the image gets and, for ostree, the root its prepare-root.conf makes. */
export function bootcRecordOf(choice: BootcBackendChoice, image: { efiLinux: readonly string[]; prepareRoot: readonly { path: string; text: string }[] }): BootcInstallRecord {
  const d = bootcBackendOf(choice, { ukis: ukisOf(image.efiLinux) });
  if (d.backend === 'composefs') return { backend: d.backend, backendWhy: d.why };
  let conf;
  try {
    conf = readPrepareRoot(image.prepareRoot);
  } catch (e) {
    throw new UsageError(`image ${(e as Error).message}`);
  }
  return { backend: d.backend, backendWhy: d.why, ostreeRoot: { composefs: conf.composefs, ...(conf.from ? { from: conf.from } : {}), expect: ostreeRootExpectation(conf) } };
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
  const record = bootcRecordOf(o.backend, { efiLinux: await namesIn(ctr.mountpoint, '/boot/EFI/Linux'), prepareRoot: await readPrepareRootConfs(ctr.mountpoint) });
  o.log?.(`disk: bootc ${record.backend} backend (${record.backendWhy})${record.ostreeRoot ? `; root: composefs ${record.ostreeRoot.composefs} (${record.ostreeRoot.from ?? 'no prepare-root.conf'})` : ''}`);
  // Copied out: QEMU's -kernel/-initrd and the kernel probe read the copies, never a name in the image.
  td.defer('remove the initrd copy', () => rmSync(join(o.workDir, 'initrd.img'), { force: true }));
  const copies = await copyKernelOut(ctr.mountpoint, kernel, o.workDir);
  return { mnt: ctr.mountpoint, kernel: { release: kernel.release, ...copies }, vmlinuz: copies.vmlinuz, record, ...(bootcVersion ? { bootcVersion } : {}) };
}

async function installedDisk(o: BootcHostInstallOptions, disk: string, release: string, vmlinuz: string, asInstalled: BootcInstallRecord): Promise<BootcInstalledDisk> {
  // The composefs backend's record of what it laid out: the digest in the boot entries it
  // wrote, read off the disk on the host; tier 4 holds the booted guest to it.
  let record = asInstalled;
  let composefsDigest: string | undefined;
  if (record.backend === 'composefs') {
    const r = await installedComposefsDigest(disk, o.signal);
    if (!r.digest) throw new AssertionFailure('disk', `bootc's composefs backend wrote ${r.found.length ? `several composefs= digests (${r.found.join(', ')})` : 'no composefs=<digest>'} into the boot entries of the disk (ESP loader/entries, EFI/Linux UKIs, /boot loader/entries)`);
    composefsDigest = r.digest;
  }
  // The ostree backend's record: its deployments and the composefs image ostree wrote for each,
  // read off the disk; an encrypted root cannot be read on the host.
  if (record.ostreeRoot && o.blockSetup !== 'tpm2-luks') {
    const deployments = await ostreeDeploymentsOf(disk, o.signal).catch((e: Error) => {
      if (e instanceof InfraError) throw e;
      throw new AssertionFailure('disk', `bootc's ostree install: ${e.message}`);
    });
    if (!deployments?.length) throw new AssertionFailure('disk', "bootc's ostree backend left no deployment under /ostree/deploy on the disk");
    record = { ...record, ostreeRoot: { ...record.ostreeRoot, deployments } };
    for (const d of deployments) o.log?.(`disk: ostree deployment ${d.stateroot}/${d.deployment}${d.composefsImage ? `, .ostree.cfs fs-verity ${d.composefsImage.fsverity}` : ', no .ostree.cfs'}`);
  }
  // tpm2-luks: bootc chose the PCRs; its LUKS2 header on the disk is the record of them.
  let sealed: SealedRoot | undefined;
  if (o.blockSetup === 'tpm2-luks') {
    sealed = await sealedRootOf(disk, o.signal).catch((e: Error) => {
      if (e instanceof InfraError) throw e;
      throw new AssertionFailure('disk', `bootc's tpm2-luks install: ${e.message}`);
    });
    o.log?.(`disk: LUKS2 root ${sealed.luksUuid}, sealed to PCRs ${sealed.luksPcrs || 'none'} (read from its header)`);
  }
  return {
    path: disk,
    format: 'raw',
    kernel: { release, vmlinuz },
    cmdline: o.kargs.join(' '),
    ...(composefsDigest ? { composefsDigest } : {}),
    ...(sealed ? sealed : {}),
    bootc: record,
    // bootc's composefs backend ignores --root-ssh-authorized-keys: systemd provisions
    // root's key from this credential at boot (tmpfiles provision.conf), either backend.
    qemuExtraArgs: rootKeyCredentialQemuArgs(o.authorizedKey + '\n'),
  };
}

export async function installBootcOnHost(o: BootcHostInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const td = new Teardown();
  try {
    const { kernel, vmlinuz, bootcVersion, record } = await openBootcImage(o, td);
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
        composefsBackend: record.backend === 'composefs',
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
    return await installedDisk(o, disk, kernel.release, vmlinuz, record);
  } finally {
    await td.run();
  }
}

export interface BootcVmInstallOptions extends BootcHostInstallOptions {
  /** The swtpm state the test boot will use: tpm2-luks binds to it. */
  tpmStateDir: string;
  vm: InstallerVmSettings;
}

/** The key file as the installer VM sees it (ostree backend: --root-ssh-authorized-keys); not
 *  in /var/tmp, which the installer unit covers with a tmpfs. */
const VM_AUTHORIZED_KEYS = '/var/lib/bootc-harness/authorized_keys';

/** bootc's --target-imgref for an image name (registry transport, its default), or undefined
 *  for anything that is not a plain image name (then bootc records the source). bootc fetches
 *  nothing of it at install: the fetch check is opt-in (--run-fetch-check; --skip-fetch-check
 *  is kept as a no-op: crates/lib/src/install.rs InstallTargetOpts), so the VM needs no network. */
export function targetImgrefOf(imageRef: string): string | undefined {
  const transport = /^(containers-storage|oci|oci-archive|docker|docker-archive|docker-daemon|dir|registry|ostree-[a-z-]+):/;
  return /^[a-z0-9][a-z0-9._\-/:@]*$/i.test(imageRef) && !transport.test(imageRef) ? imageRef : undefined;
}

/** `bootc install to-disk` inside an installer VM booted from the image, with the test VM's TPM. */
export async function installBootcInVm(o: BootcVmInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const log = o.log ?? o.vm.log;
  const td = new Teardown();
  try {
    const { mnt, kernel, vmlinuz, bootcVersion, record } = await openBootcImage({ ...o, ...(log ? { log } : {}) }, td);
    if (!kernel.initrd) throw new UsageError(`image ${o.imageRef} has kernel ${kernel.release} but no initramfs: the installer VM boots it`);
    await mkdirInRoot(mnt, VM_AUTHORIZED_KEYS.slice(0, VM_AUTHORIZED_KEYS.lastIndexOf('/')), 0o700);
    await writeFileInRoot(mnt, VM_AUTHORIZED_KEYS, o.authorizedKey + '\n', 0o600);
    const args = bootcInVmArgs({
      imageRef: o.imageRef,
      targetSerial: INSTALLER_TARGET_SERIAL,
      filesystem: o.filesystem,
      kargs: o.kargs,
      composefsBackend: record.backend === 'composefs',
      ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
      ...(record.backend === 'composefs' ? {} : { authorizedKeysPath: VM_AUTHORIZED_KEYS }),
      ...(bootcVersion ? { bootcVersion } : {}),
      // What `bootc status` names and `bootc upgrade` would fetch: the image, not the VM's share.
      ...(targetImgrefOf(o.imageRef) ? { targetImgref: targetImgrefOf(o.imageRef)! } : {}),
    });
    const disk = join(o.workDir, 'disk.raw');
    await runChecked(['truncate', '-s', `${o.minDiskGiB}G`, disk], S);
    // The image alone, never the host's container storage (issue 23).
    requireTools(['skopeo']);
    const paths = exportPaths(o.workDir);
    td.defer('installer image export', () => {
      for (const p of [paths.dir, paths.digestFile]) rmSync(p, { recursive: true, force: true });
    });
    const exported = await exportImageForInstaller(o.imageId, o.workDir, { ...(o.signal ? { signal: o.signal } : {}) });
    log?.(`disk: image exported alone for the installer VM (OCI layout, manifest ${exported.manifestDigest})`);
    const r = await runOneshotVm({
      ...o.vm,
      rootfs: mnt,
      kernel: kernel.vmlinuz,
      initrd: kernel.initrd,
      disks: [{ path: disk, serial: INSTALLER_TARGET_SERIAL }],
      tpmStateDir: o.tpmStateDir,
      shares: [{ tag: INSTALLER_IMAGE_TAG, dir: exported.dir, readOnly: true }],
      // bcvk's to-disk sizes the /var/tmp tmpfs and its swap as the target disk.
      swap: { gib: o.minDiskGiB, serial: INSTALLER_SWAP_SERIAL },
      unit: {
        name: INSTALLER_UNIT,
        text: installerUnit({ bootcArgs: args, targetSerial: INSTALLER_TARGET_SERIAL, waitForTpm: o.blockSetup === 'tpm2-luks', scratchGiB: o.minDiskGiB }),
      },
      workDir: o.workDir,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.exitCode !== 0) throw new AssertionFailure('disk', `bootc install to-disk failed in the installer VM (exit ${r.status}, ${r.serviceResult}); console: ${r.consoleLog}`);
    await td.runOrThrow();
    return await installedDisk(o, disk, kernel.release, vmlinuz, { ...record, manifestDigest: exported.manifestDigest });
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
