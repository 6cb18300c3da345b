// A oneshot VM (the installer VM): the image boots its own kernel and initramfs, its root shared
// from the host by virtiofsd, with the disks and the swtpm state it is given, runs one oneshot
// unit (handed over as SMBIOS credentials) and powers off. Whatever the unit binds to "the TPM"
// is bound to the test VM's TPM, not the host's. A boot mode of the one Vm: the same spawn,
// console watch, exit handling and monitor; this module adds the shares, the swap disk, the
// unit and the wait for its result, and owns every process and file it starts.
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import { run } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { Teardown } from '../util/teardown.js';
import { chooseAccel } from './accel.js';
import { systemdCredentialArgs } from './credentials.js';
import { startDaemon } from './daemon.js';
import { INSTALL_RESULT_PORT, parseInstallResult, type InstallResult } from './oneshot-unit.js';
import { checkTag, SERIAL_CONSOLE_KARG, type Accel, type SerialDisk } from './qemu-args.js';
import { Swtpm } from './swtpm.js';
import { findVirtiofsd, virtiofsdArgs, virtiofsdHelpHas } from './virtiofsd.js';
import { Vm } from './vm.js';

/** virtiofs tag of the image's root filesystem (the kernel's root=). */
export const ONESHOT_ROOT_TAG = 'rootfs';
/** File names of the oneshot VM in a run's work directory, apart from the test VM's. */
const PREFIX = 'installer-';

/** How to boot a oneshot VM: what the run decides, as opposed to what the step inside it needs. */
export interface OneshotVmSettings {
  /** auto: KVM when it really works here (the same cached probe as the test boot), else TCG. */
  accel: 'auto' | Accel;
  cpus: number;
  memoryMiB: number;
  /** UEFI code and a VARS template: the test boot's firmware, so PCR 7 matches. */
  firmware: { code: string; varsTemplate: string };
  /** Epoch ms by which the VM must have ended: the caller's stage deadline less room for its own teardown. */
  deadline: number;
  /** Where the VM's console goes (the report keeps it); default: the work directory. */
  consoleLog?: string;
  log?: (line: string) => void;
}

export interface OneshotVmOptions extends OneshotVmSettings {
  /** The image's root, e.g. a working container's mount: the VM writes into it, so never the image itself. */
  rootfs: string;
  kernel: string;
  initrd: string;
  /** More host directories, each a virtiofsd of its own; a read-only one is refused unless virtiofsd can enforce it. */
  shares?: readonly { tag: string; dir: string; readOnly: boolean }[];
  disks: readonly { path: string; serial: string }[];
  /** A sparse swap disk of this many GiB with this serial. */
  swap?: { gib: number; serial: string };
  /** The swtpm state directory the test boot will use. */
  tpmStateDir?: string;
  unit: { name: string; text: string };
  workDir: string;
  signal?: AbortSignal;
}

export interface OneshotVmResult extends InstallResult {
  consoleLog: string;
  seconds: number;
}

/** Pure: the kernel arguments of a oneshot VM whose root is the virtiofs share `rootTag`. */
export function virtiofsRootKargs(o: { unitName: string; rootTag?: string }): string[] {
  const tag = o.rootTag ?? ONESHOT_ROOT_TAG;
  checkTag(tag);
  return [
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
    // Boot straight into the unit: no getty, network or sshd.
    `systemd.unit=${o.unitName}`,
  ];
}

/** Pure: the unit as systemd.extra-unit.<name>, pulled in by a multi-user.target drop-in
 *  (systemd-debug-generator(8); an extra unit with only [Install] is never enabled). */
export function oneshotUnitCredentialArgs(name: string, unitText: string): string[] {
  if (!/^[A-Za-z0-9_.@-]+\.service$/.test(name)) throw new UsageError(`bad unit name ${JSON.stringify(name)}`);
  if (!unitText.includes('[Service]')) throw new UsageError('not a service unit');
  return [
    ...systemdCredentialArgs(`systemd.extra-unit.${name}`, unitText),
    ...systemdCredentialArgs(`systemd.unit-dropin.multi-user.target~${name.replace(/\.service$/, '')}`, `[Unit]\nWants=${name}\n`),
  ];
}

/** Boots the oneshot VM, waits for QEMU to exit (the unit powers it off) and reads the unit's result. */
export async function runOneshotVm(o: OneshotVmOptions): Promise<OneshotVmResult> {
  const started = Date.now();
  const dir = o.workDir;
  const td = new Teardown();
  const consoleLog = o.consoleLog ?? join(dir, `${PREFIX}console.log`);
  const resultFile = join(dir, `${PREFIX}result.txt`);
  try {
    const shares = await startShares(o, td);
    let tpmSocket: string | undefined;
    if (o.tpmStateDir) {
      const tpm = await Swtpm.start(o.tpmStateDir, join(dir, `${PREFIX}tpm.sock`));
      td.defer('stop installer swtpm', () => tpm.dispose());
      tpmSocket = tpm.socket;
    }
    const swap = o.swap ? sparseDisk(join(dir, `${PREFIX}swap.img`), o.swap, td) : undefined;
    td.defer('remove installer VARS', () => rmSync(join(dir, `${PREFIX}OVMF_VARS.fd`), { force: true }));
    const accel = (await chooseAccel(o.accel, o.kernel)).accel;
    const vm = await Vm.start({
      boot: 'kernel',
      stage: 'disk',
      prefix: PREFIX,
      dir,
      accel,
      cpus: o.cpus,
      memoryMiB: o.memoryMiB,
      ovmfCode: o.firmware.code,
      ovmfVarsTemplate: o.firmware.varsTemplate,
      kernel: o.kernel,
      initrd: o.initrd,
      kargs: virtiofsRootKargs({ unitName: o.unit.name }),
      shares,
      disks: [...o.disks.map((d): SerialDisk => ({ ...d, format: 'raw' })), ...(swap ? [swap] : [])],
      ...(tpmSocket ? { tpmSocket } : {}),
      resultPort: { name: INSTALL_RESULT_PORT, file: resultFile },
      extraArgs: oneshotUnitCredentialArgs(o.unit.name, o.unit.text),
      consoleLog,
    });
    td.defer('stop installer QEMU', () => vm.dispose());
    o.log?.(`disk: installer VM booting (${accel})`);

    // The VM ends itself (SuccessAction/FailureAction=poweroff); a kernel panic ends it too
    // (panic=-1, -no-reboot). A fatal console line before that ends the wait at once.
    const tail = () => vm.console.lines.slice(-40).join('\n');
    const fatal = new Promise<never>((_, reject) =>
      vm.console.on('fatal', (hit: { id: string; line: string }) => reject(new InfraError('disk', `installer VM: ${hit.line} [${hit.id}]`, { consoleTail: tail() }))),
    );
    const budgetMs = Math.max(1_000, o.deadline - Date.now());
    const exit = await withDeadline(Promise.race([vm.exited, fatal]), budgetMs, 'installer VM', o.signal).catch((e: unknown) => {
      if (e instanceof InfraError || o.signal?.aborted) throw e;
      throw new InfraError('disk', `installer VM: ${(e as Error).message}`, { cause: e, budgetMs, consoleTail: tail() });
    });
    const resultText = existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : '';
    const result = parseInstallResult(resultText) ?? parseInstallResult(vm.console.lines.join('\n') + '\n');
    if (!result) {
      throw new InfraError('disk', `installer VM ended without a result: ${vm.exitError(exit).message}`, { consoleTail: tail() });
    }
    await td.runOrThrow();
    return { ...result, consoleLog, seconds: (Date.now() - started) / 1000 };
  } finally {
    await td.run();
  }
}

/** The root share (writable) and the caller's, a virtiofsd each. */
async function startShares(o: OneshotVmOptions, td: Teardown): Promise<{ tag: string; socket: string }[]> {
  const virtiofsd = findVirtiofsd();
  const all = [{ tag: ONESHOT_ROOT_TAG, dir: o.rootfs, readOnly: false }, ...(o.shares ?? [])];
  let canReadOnly: boolean | undefined;
  const out: { tag: string; socket: string }[] = [];
  for (const sh of all) {
    checkTag(sh.tag);
    if (sh.readOnly) {
      canReadOnly ??= await run([virtiofsd, '--help'], { stage: 'disk' }).then((h) => virtiofsdHelpHas(h.stdout + h.stderr, '--readonly'));
      // A share that must be read-only and cannot be is not offered writable instead: fail closed.
      if (!canReadOnly) throw new UsageError(`${virtiofsd} has no --readonly: the installer VM's read-only share of ${sh.dir} cannot be made read-only (install virtiofsd 1.11 or later; just setup does)`);
    }
    const socket = join(o.workDir, `${PREFIX}vfs-${sh.tag}.sock`);
    // The guest is the only writer: let it cache everything (measured: boot to the unit in
    // about 40 s under TCG, against over 200 s with cache=auto).
    const argv = virtiofsdArgs({ binary: virtiofsd, sharedDir: sh.dir, socket, readOnly: sh.readOnly, cache: 'always' });
    const daemon = await startDaemon(argv, { sockets: [socket], what: 'virtiofsd', stage: 'disk', ...(o.signal ? { signal: o.signal } : {}) });
    td.defer('stop virtiofsd', () => daemon.stop());
    out.push({ tag: sh.tag, socket });
  }
  return out;
}

/** Sparse: the host pays only for what the guest swaps out (bcvk's run_ephemeral add_swap). */
function sparseDisk(path: string, o: { gib: number; serial: string }, td: Teardown): SerialDisk {
  const fd = openSync(path, 'w', 0o600);
  td.defer('remove installer swap', () => rmSync(path, { force: true }));
  try {
    ftruncateSync(fd, o.gib * 2 ** 30);
  } finally {
    closeSync(fd);
  }
  return { path, format: 'raw', serial: o.serial };
}
