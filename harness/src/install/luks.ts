// LUKS2 root sealed to the VM's TPM, written without opening the volume on the host:
// cryptsetup encrypts the finished ext4 image in place (offline reencryption, no dm,
// no loop), and systemd-cryptenroll seals a new key to the swtpm state the VM will
// boot with (no PCRs: the key is bound to that TPM, so a fresh TPM cannot unseal it),
// then wipes the temporary password slot: the header ends with one systemd-tpm2 token.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import { isFileInRoot, mkdirInRoot, removeFileInRoot, writeFileInRoot } from '../image/in-root.js';
import { INSTALLER_TARGET_SERIAL, INSTALLER_UNIT, installerTargetDevice } from './bootc-vm-unit.js';
import { installerServiceUnit } from '../vm/oneshot-unit.js';
import { runOneshotVm, type OneshotVmOptions, type OneshotVmResult } from '../vm/oneshot-vm.js';
import { runChecked } from '../util/exec.js';
import { startDaemon } from '../vm/daemon.js';

/** Space cryptsetup moves the data by to make room for the LUKS2 header. */
export const LUKS_HEADER_MIB = 32;

/** Pure: the in-place encryption of a filesystem image (its last LUKS_HEADER_MIB must be free). */
export function encryptArgs(image: string, keyFile: string): string[] {
  return [
    'cryptsetup', 'reencrypt', '--encrypt', '--type', 'luks2', '--batch-mode',
    '--reduce-device-size', `${LUKS_HEADER_MIB}M`,
    // The password slot lives only until the TPM2 slot replaces it: no point in a slow KDF.
    '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
    '--key-file', keyFile, image,
  ];
}

/** Pure: swtpm serving the TPM state over a unix socket that tpm2-tss's swtpm TCTI speaks. */
export function enrollSwtpmArgs(stateDir: string, socket: string): string[] {
  return [
    'swtpm', 'socket', '--tpm2',
    '--tpmstate', `dir=${stateDir}`,
    '--server', `type=unixio,path=${socket}`,
    '--ctrl', `type=unixio,path=${socket}.ctrl`,
    '--flags', 'not-need-init,startup-clear',
  ];
}

/** Pure: seal a new key to that TPM (no PCR policy) and wipe the password slot. */
export function enrollArgs(image: string, keyFile: string, socket: string): string[] {
  return ['systemd-cryptenroll', `--unlock-key-file=${keyFile}`, `--tpm2-device=swtpm:path=${socket}`, `--tpm2-pcrs=${HOST_ENROLL_PCRS}`, '--wipe-slot=password', image];
}

/** PCRs a host-side enrollment seals to: none (the host cannot measure the VM's boot). */
export const HOST_ENROLL_PCRS = '';
/** PCRs the installer VM seals to: 7, what bootc's tpm2-luks binds. */
export const VM_ENROLL_PCRS = '7';

/** Pure: kernel arguments that make the initrd open the root from its TPM2 token. */
export function luksKargs(luksUuid: string): string[] {
  return [
    `rd.luks.uuid=${luksUuid}`,
    `rd.luks.options=${luksUuid}=tpm2-device=auto`,
    // systemd-cryptsetup says why TPM2 unlocking failed in the journal only: put notices
    // on the console, where the harness reads the boot as it happens.
    'systemd.journald.forward_to_console=1',
    'systemd.journald.max_level_console=notice',
  ];
}

/** Where the installer VM finds the setup key: a path in the image's root as the VM sees it. */
export const VM_SETUP_KEY = '/var/tmp/bootc-harness-luks-setup.key';

/** Pure: the enrollment bootc's tpm2-luks does, run inside the installer VM on the VM's own TPM.
 *  PCR 7 (Secure Boot state) is systemd-cryptenroll's default, so what bootc binds. */
export function vmEnrollArgs(device: string): string[] {
  return ['/usr/bin/systemd-cryptenroll', `--unlock-key-file=${VM_SETUP_KEY}`, '--tpm2-device=auto', `--tpm2-pcrs=${VM_ENROLL_PCRS}`, '--wipe-slot=password', device];
}

/** Encrypts the filesystem image in place with a fresh setup key (which the caller must remove). */
export async function encryptWithSetupKey(opts: { image: string; keyFile: string; signal?: AbortSignal }): Promise<{ luksUuid: string }> {
  const S = { stage: 'disk' as const, signal: opts.signal };
  writeFileSync(opts.keyFile, randomBytes(64), { mode: 0o600 });
  await runChecked(encryptArgs(opts.image, opts.keyFile), S);
  return { luksUuid: (await runChecked(['cryptsetup', 'luksUUID', opts.image], S)).stdout.trim() };
}

export async function encryptForTpm2(opts: { image: string; workDir: string; tpmStateDir: string; signal?: AbortSignal }): Promise<{ luksUuid: string }> {
  const S = { stage: 'disk' as const, signal: opts.signal };
  const keyFile = join(opts.workDir, 'luks-setup.key');
  try {
    const { luksUuid } = await encryptWithSetupKey({ image: opts.image, keyFile, ...(opts.signal ? { signal: opts.signal } : {}) });
    mkdirSync(opts.tpmStateDir, { recursive: true, mode: 0o700 });
    const socket = join(opts.workDir, 'enroll-tpm.sock');
    const swtpm = await startDaemon(enrollSwtpmArgs(opts.tpmStateDir, socket), { sockets: [socket, `${socket}.ctrl`], what: 'swtpm for TPM2 enrollment', stage: 'disk', ...(opts.signal ? { signal: opts.signal } : {}) });
    try {
      await runChecked(enrollArgs(opts.image, keyFile, socket), S);
    } finally {
      await swtpm.stop();
    }
    return { luksUuid };
  } finally {
    rmSync(keyFile, { force: true });
  }
}

export interface EnrollInVmOptions extends Omit<OneshotVmOptions, 'unit' | 'disks' | 'tpmStateDir' | 'shares' | 'swap'> {
  disk: string;
  /** The partition number of the LUKS root on that disk. */
  partition: number;
  keyFile: string;
  tpmStateDir: string;
}

/** Seals the root's key in the installer VM, to the TPM (and firmware) the test boot will use. */
export async function enrollTpm2InVm(o: EnrollInVmOptions): Promise<OneshotVmResult> {
  if (!(await isFileInRoot(o.rootfs, '/usr/bin/systemd-cryptenroll'))) {
    throw new UsageError('--placement vm enrolls the TPM inside the image: it has no /usr/bin/systemd-cryptenroll (Debian package systemd-cryptsetup)');
  }
  const serial = INSTALLER_TARGET_SERIAL;
  const device = `${installerTargetDevice(serial)}-part${o.partition}`;
  // The root share is writable by the guest: the key goes in and comes out through the safe
  // opener (walked on descriptors, unlinked without following), never by a name the guest can redirect.
  await mkdirInRoot(o.rootfs, dirname(VM_SETUP_KEY), 0o700);
  await writeFileInRoot(o.rootfs, VM_SETUP_KEY, await readFile(o.keyFile), 0o600);
  try {
    const r = await runOneshotVm({
      ...o,
      disks: [{ path: o.disk, serial }],
      unit: {
        name: INSTALLER_UNIT,
        text: installerServiceUnit({
          description: 'bootc-harness: seal the LUKS key to this VM TPM',
          exec: vmEnrollArgs(device),
          waitFor: [device, '/dev/tpmrm0'],
        }),
      },
    });
    if (r.exitCode !== 0) {
      throw new InfraError('disk', `systemd-cryptenroll in the installer VM failed (exit ${r.status}, ${r.serviceResult}); see ${r.consoleLog}`);
    }
    o.log?.(`disk: installer VM: systemd-cryptenroll exited 0, the VM powered off after ${r.seconds.toFixed(0)} s`);
    return r;
  } finally {
    await removeFileInRoot(o.rootfs, VM_SETUP_KEY);
  }
}
