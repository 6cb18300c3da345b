// Installer "direct": for images without bootc. Builds a GPT disk with an ESP
// (systemd-boot + a BLS entry for the image's own kernel and initrd) and an ext4
// root filled from the committed image. No loop devices or mounts of the disk:
// mke2fs -d and mtools write the filesystems as files, which cannot leak.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import { mountedContainer } from '../image/buildah.js';
import { copyKernelOut, findKernel } from '../image/kernel.js';
import { chmodDirInRoot, copyFileOutOfRoot, mkdirInRoot, writeFileInRoot } from '../image/in-root.js';
import { runChecked } from '../util/exec.js';
import { runTreeReaderChecked, TREE_TOOL_MS } from '../util/sandbox.js';
import { Teardown } from '../util/teardown.js';
import { HOST_ENROLL_PCRS, LUKS_HEADER_MIB, VM_ENROLL_PCRS, encryptForTpm2, encryptWithSetupKey, enrollTpm2InVm, luksKargs } from './luks.js';
import type { InstallOptions, InstalledDisk, InstallerVmSettings } from './types.js';
import { composefsKarg, stageComposefsRoot, type ComposefsStage } from './composefs-layout.js';
import { blsEntry, kernelCmdline, loaderConf, planDisk, sfdiskScript } from './disk-layout.js';

export interface DirectInstallOptions extends InstallOptions {
  /** composefs: the root filesystem holds a composefs repository, not the image's tree. */
  rootLayout?: 'plain' | 'composefs';
  /** Encrypt the root (LUKS2) with its key sealed to the TPM whose state is in tpmStateDir:
   *  from the host (no PCRs), or inside an installer VM (PCR 7, as bootc's tpm2-luks). */
  luks?: { tpm2: { stateDir: string; inVm?: InstallerVmSettings } };
  /** The run log (device nodes the composefs copy left out). */
  log?: (line: string) => void;
}

const STAGE = { stage: 'disk' as const };
const HOST_SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
/** Far larger than any systemd-boot binary. */
const LOADER_CAP = 16 * 2 ** 20;
const MIB = 2 ** 20;
/** mke2fs's defaults per file system type (mke2fs.conf(5)); without it mke2fs falls back to compiled-in ones. */
const MKE2FS_CONF = '/etc/mke2fs.conf';

export async function installDirect(opts: DirectInstallOptions): Promise<InstalledDisk> {
  // Long steps stop on Ctrl-C; teardown steps never take the signal, so they always run.
  const S = { ...STAGE, signal: opts.signal };
  const td = new Teardown();
  const esp = join(opts.workDir, 'esp.img');
  const root = join(opts.workDir, 'root.img');
  const disk = join(opts.workDir, 'disk.raw');
  td.defer('remove partition images', () => {
    rmSync(esp, { force: true });
    rmSync(root, { force: true });
  });
  try {
    const ctr = await mountedContainer(opts.imageId, `bh-${opts.runId}-disk`, td);
    const mnt = ctr.mountpoint;
    const found = await findKernel(mnt);
    if (!found) throw new UsageError(`image ${opts.imageId.slice(0, 12)} has no kernel`);
    if (!found.initrd) throw new UsageError(`image has kernel ${found.release} but no initramfs for it`);
    // Copied out first: mcopy, cp and QEMU's -kernel read these, never a name in the image.
    td.defer('remove the kernel copies', () => rmSync(join(opts.workDir, 'initrd.img'), { force: true }));
    const kernel = { release: found.release, ...(await copyKernelOut(mnt, found, opts.workDir)) } as { release: string; vmlinuz: string; initrd: string };

    let tree = mnt;
    let composefs: ComposefsStage | undefined;
    if (opts.rootLayout === 'composefs') {
      const stageDir = join(opts.workDir, 'root-tree');
      td.defer('remove root staging', () => rmSync(stageDir, { recursive: true, force: true }));
      composefs = await stageComposefsRoot({ mnt, stageDir, authorizedKey: opts.authorizedKey, signal: opts.signal, ...(opts.log ? { log: opts.log } : {}) });
      tree = stageDir;
    } else {
      // The per-run key goes into the throwaway container's layer, never into the image.
      // /root may be a link (bootc images: /var/roothome): followed inside the image only.
      await mkdirInRoot(mnt, '/root/.ssh', 0o700);
      await chmodDirInRoot(mnt, '/root/.ssh', 0o700);
      await writeFileInRoot(mnt, '/root/.ssh/authorized_keys', opts.authorizedKey + '\n', 0o600);
    }

    const used = await runChecked(['du', '-sxb', tree], S);
    const plan = planDisk(Number(used.stdout.split(/\s/)[0]), opts.minDiskGiB);
    const rootUuid = randomUUID();
    // An encrypted root keeps its last LUKS_HEADER_MIB free: cryptsetup moves the data up by that much for the header.
    const fsMiB = opts.luks ? plan.rootMiB - LUKS_HEADER_MIB : plan.rootMiB;
    await runChecked(['truncate', '-s', `${plan.rootMiB}M`, root], S);
    // mke2fs -d reads every file of the image: sandboxed as a reader of it (util/sandbox.ts), the
    // only host files it sees its own config and the file system image it writes.
    const conf = existsSync(MKE2FS_CONF) ? [MKE2FS_CONF] : [];
    await runTreeReaderChecked(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'root', '-U', rootUuid, '-d', tree, root, `${fsMiB}M`], { inputs: [tree, ...conf], outputs: [root], maxFileBytes: plan.rootMiB * MIB }, { stage: 'disk', what: `mke2fs -d on ${tree}`, timeoutMs: TREE_TOOL_MS, maxOutputBytes: 1024 * 1024, ...(opts.signal ? { signal: opts.signal } : {}) });
    const inVm = opts.luks?.tpm2.inVm;
    const setupKey = join(opts.workDir, 'luks-setup.key');
    td.defer('remove the LUKS setup key', () => rmSync(setupKey, { force: true }));
    const luks = !opts.luks
      ? undefined
      : inVm
        ? await encryptWithSetupKey({ image: root, keyFile: setupKey, signal: opts.signal })
        : await encryptForTpm2({ image: root, workDir: opts.workDir, tpmStateDir: opts.luks.tpm2.stateDir, signal: opts.signal });

    const kargs = [...(composefs ? [composefsKarg(composefs.digest, false)] : []), ...(luks ? luksKargs(luks.luksUuid) : []), ...opts.kargs];
    const cmdline = kernelCmdline(rootUuid, kargs, { readOnlyRoot: !!composefs });

    await runChecked(['truncate', '-s', `${plan.espMiB}M`, esp], S);
    await runChecked(['mkfs.vfat', '-F', '32', '-n', 'ESP', esp], S);
    const imageBoot = join(opts.workDir, 'systemd-bootx64.efi');
    td.defer('remove the loader copy', () => rmSync(imageBoot, { force: true }));
    const loader = (await copyFileOutOfRoot(mnt, '/usr/lib/systemd/boot/efi/systemd-bootx64.efi', imageBoot, LOADER_CAP)) ? imageBoot : HOST_SYSTEMD_BOOT;
    if (!existsSync(loader)) throw new InfraError('disk', `no systemd-boot: install Debian package systemd-boot-efi`);
    const confDir = join(opts.workDir, 'esp-files');
    mkdirSync(confDir, { recursive: true });
    td.defer('remove esp staging', () => rmSync(confDir, { recursive: true, force: true }));
    writeFileSync(join(confDir, 'loader.conf'), loaderConf('harness'));
    writeFileSync(join(confDir, 'harness.conf'), blsEntry('bootc-harness', kernel.release, cmdline));
    const env = { MTOOLS_SKIP_CHECK: '1' };
    const m = (argv: string[]) => runChecked(argv, { ...S, env });
    await m(['mmd', '-i', esp, '::/EFI', '::/EFI/BOOT', '::/loader', '::/loader/entries', `::/${kernel.release}`]);
    await m(['mcopy', '-i', esp, loader, '::/EFI/BOOT/BOOTX64.EFI']);
    await m(['mcopy', '-i', esp, kernel.vmlinuz, `::/${kernel.release}/linux`]);
    await m(['mcopy', '-i', esp, kernel.initrd, `::/${kernel.release}/initrd`]);
    await m(['mcopy', '-i', esp, join(confDir, 'loader.conf'), '::/loader/loader.conf']);
    await m(['mcopy', '-i', esp, join(confDir, 'harness.conf'), '::/loader/entries/harness.conf']);

    // The VM's kernel probe needs a kernel outside the image mount: the copy above.
    const vmlinuz = kernel.vmlinuz;

    await runChecked(['truncate', '-s', `${plan.totalMiB}M`, disk], S);
    await runChecked(['sfdisk', '--quiet', disk], { ...S, input: sfdiskScript(plan) });
    await runChecked(['dd', `if=${esp}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none'], S);
    await runChecked(['dd', `if=${root}`, `of=${disk}`, 'bs=1M', `seek=${1 + plan.espMiB}`, 'conv=notrunc,sparse', 'status=none'], S);
    if (inVm && opts.luks) {
      // The image boots as its own installer on the finished disk (the root is partition 2).
      await enrollTpm2InVm({
        ...inVm,
        rootfs: mnt,
        kernel: kernel.vmlinuz,
        initrd: kernel.initrd,
        disk,
        partition: 2,
        keyFile: setupKey,
        tpmStateDir: opts.luks.tpm2.stateDir,
        workDir: opts.workDir,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    }
    await td.runOrThrow();
    return { path: disk, format: 'raw', kernel: { release: kernel.release, vmlinuz }, cmdline, ...(composefs ? { composefsDigest: composefs.digest } : {}), ...(luks ? { luksUuid: luks.luksUuid, luksPcrs: inVm ? VM_ENROLL_PCRS : HOST_ENROLL_PCRS } : {}) };
  } finally {
    await td.run();
  }
}

