// The installer VM: the image boots as its own installer (its kernel and initramfs, its root
// shared from the host by virtiofsd), with the target disk and the swtpm state the test boot
// will use, runs one oneshot unit and powers off. Whatever the unit binds to "the TPM" is
// bound to the test VM's TPM, not the host's. The argv, unit and kargs builders are in
// bootc-vm-unit.ts; this module runs them and owns every process it starts (and its swap file).
import { closeSync, copyFileSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import { run, spawn } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { Teardown } from '../util/teardown.js';
import { which } from '../util/tools.js';
import { chooseAccel } from '../vm/accel.js';
import { ConsoleWatch } from '../vm/console-watch.js';
import { startDaemon } from '../vm/daemon.js';
import { killGroup } from '../util/process-group.js';
import type { Accel } from '../vm/qemu-args.js';
import { Swtpm } from '../vm/swtpm.js';
import {
  INSTALLER_SWAP_SERIAL,
  INSTALLER_UNIT,
  installerUnitCredentialArgs,
  installerVmKargs,
  installerVmQemuArgs,
} from './bootc-vm-unit.js';
import { parseInstallResult, type InstallResult } from '../vm/oneshot-unit.js';
import { findVirtiofsd, virtiofsdArgs, virtiofsdHelpHas } from '../vm/virtiofsd.js';

export interface InstallerVmOptions {
  /** The image's root, e.g. a working container's mount: the VM writes into it, so never the image itself. */
  rootfs: string;
  kernel: string;
  initrd: string;
  targetDisk: { path: string; serial: string };
  /** The swtpm state directory the test boot will use. */
  tpmStateDir?: string;
  /** UEFI code and a VARS template: the installer boots the firmware the test boot uses, so PCR 7 matches. */
  firmware: { code: string; varsTemplate: string };
  /** Host container storage shared read-only (bootc's --source-imgref containers-storage:). */
  storageDir?: string;
  /** From installerUnit() or installerServiceUnit(). */
  unitText: string;
  /** A sparse swap disk of this many GiB, serial INSTALLER_SWAP_SERIAL (installerUnit's scratchGiB). */
  swapGiB?: number;
  /** auto: KVM when it really works here (the same cached probe as the test boot), else TCG. */
  accel: 'auto' | Accel;
  cpus: number;
  memoryMiB: number;
  workDir: string;
  /** Epoch ms by which the VM must have ended: the caller's stage deadline less room for its own teardown. */
  deadline: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** How to boot the installer VM: what the run decides, as opposed to what the install step decides. */
export type InstallerVmSettings = Pick<InstallerVmOptions, 'accel' | 'cpus' | 'memoryMiB' | 'firmware' | 'deadline' | 'log'>;

export interface InstallerVmResult extends InstallResult {
  consoleLog: string;
  seconds: number;
}

/** Boots the installer VM, waits for its unit's result line and for QEMU to exit. */
export async function runInstallerVm(o: InstallerVmOptions): Promise<InstallerVmResult> {
  const started = Date.now();
  const virtiofsd = findVirtiofsd();
  const dir = o.workDir;
  const td = new Teardown();
  const consoleLog = join(dir, 'installer-console.log');
  const resultFile = join(dir, 'installer-result.txt');
  try {
    const help = await run([virtiofsd, '--help'], { stage: 'disk' });
    const shares: { sharedDir: string; socket: string; readOnly: boolean }[] = [{ sharedDir: o.rootfs, socket: join(dir, 'vfs-rootfs.sock'), readOnly: false }];
    // QEMU needs a second vhost-user-fs device only when bootc reads the host's storage; an unused
    // tag still needs a daemon behind it, so without storage the rootfs share is offered twice, read-only.
    shares.push({ sharedDir: o.storageDir ?? o.rootfs, socket: join(dir, 'vfs-storage.sock'), readOnly: true });
    const canReadOnly = virtiofsdHelpHas(help.stdout + help.stderr, '--readonly');
    for (const sh of shares) {
      // A share that must be read-only and cannot be is not offered writable instead: fail closed.
      if (sh.readOnly && !canReadOnly) {
        throw new UsageError(`${virtiofsd} has no --readonly: the installer VM's read-only share of ${sh.sharedDir} cannot be made read-only (install virtiofsd 1.11 or later; just setup does)`);
      }
      const argv = virtiofsdArgs({
        binary: virtiofsd,
        sharedDir: sh.sharedDir,
        socket: sh.socket,
        readOnly: sh.readOnly,
        // The guest is the only writer: let it cache everything (measured: boot to the unit in
        // about 40 s under TCG, against over 200 s with cache=auto).
        cache: 'always',
      });
      const daemon = await startDaemon(argv, { sockets: [sh.socket], what: 'virtiofsd', stage: 'disk', ...(o.signal ? { signal: o.signal } : {}) });
      td.defer('stop virtiofsd', () => daemon.stop());
    }

    let tpmSocket: string | undefined;
    if (o.tpmStateDir) {
      const tpm = await Swtpm.start(o.tpmStateDir, join(dir, 'installer-tpm.sock'));
      td.defer('stop installer swtpm', () => tpm.dispose());
      tpmSocket = tpm.socket;
    }
    const vars = join(dir, 'installer-OVMF_VARS.fd');
    copyFileSync(o.firmware.varsTemplate, vars);
    td.defer('remove installer VARS', () => rmSync(vars, { force: true }));

    let swapDisk: { path: string; serial: string } | undefined;
    if (o.swapGiB !== undefined) {
      // Sparse: the host pays only for what the guest swaps out (bcvk's run_ephemeral add_swap).
      swapDisk = { path: join(dir, 'installer-swap.img'), serial: INSTALLER_SWAP_SERIAL };
      const fd = openSync(swapDisk.path, 'w', 0o600);
      td.defer('remove installer swap', () => rmSync(swapDisk!.path, { force: true }));
      try {
        ftruncateSync(fd, o.swapGiB * 2 ** 30);
      } finally {
        closeSync(fd);
      }
    }

    const accel = (await chooseAccel(o.accel, o.kernel)).accel;
    const args = installerVmQemuArgs({
      accel,
      cpus: o.cpus,
      memoryMiB: o.memoryMiB,
      kernel: o.kernel,
      initrd: o.initrd,
      // Boot straight into the unit: no getty, network or sshd in an installer.
      kargs: installerVmKargs({ extra: [`systemd.unit=${INSTALLER_UNIT}`] }),
      rootfsSocket: shares[0]!.socket,
      storageSocket: shares[1]!.socket,
      targetDisk: { path: o.targetDisk.path, format: 'raw', serial: o.targetDisk.serial },
      ...(swapDisk ? { swapDisk } : {}),
      ...(tpmSocket ? { tpmSocket } : {}),
      firmware: { code: o.firmware.code, vars },
      resultFile,
      extraArgs: installerUnitCredentialArgs(o.unitText),
    });
    const watch = new ConsoleWatch(consoleLog);
    const qemu = spawn(args, { stage: 'disk', cwd: dir });
    let stderr = '';
    qemu.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    if (qemu.stdout) watch.attach(qemu.stdout);
    const exited = qemu.then((r) => r);
    td.defer('stop installer QEMU', () => killGroup(qemu, exited, 5000));
    o.log?.(`disk: installer VM booting (${accel})`);

    // The VM ends itself (SuccessAction/FailureAction=poweroff); a kernel panic ends it too
    // (panic=-1, -no-reboot). A fatal console line before that ends the wait at once.
    const fatal = new Promise<never>((_, reject) =>
      watch.on('fatal', (hit: { id: string; line: string }) => reject(new InfraError('disk', `installer VM: ${hit.line} [${hit.id}]`, { consoleTail: watch.lines.slice(-40).join('\n') }))),
    );
    const budgetMs = Math.max(1_000, o.deadline - Date.now());
    const exit = await withDeadline(Promise.race([exited, fatal]), budgetMs, 'installer VM', o.signal).catch((e: unknown) => {
      if (e instanceof InfraError) throw e;
      if (o.signal?.aborted) throw e;
      throw new InfraError('disk', `installer VM: ${(e as Error).message}`, { cause: e, budgetMs, consoleTail: watch.lines.slice(-40).join('\n') });
    });
    const resultText = existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : '';
    const result = parseInstallResult(resultText) ?? parseInstallResult(watch.lines.join('\n') + '\n');
    if (!result) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.exitCode}`;
      throw new InfraError('disk', `installer VM ended without a result: QEMU ${how}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`, {
        consoleTail: watch.lines.slice(-40).join('\n'),
      });
    }
    await td.runOrThrow();
    return { ...result, consoleLog, seconds: (Date.now() - started) / 1000 };
  } finally {
    await td.run();
  }
}
