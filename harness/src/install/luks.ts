// LUKS2 root sealed to the VM's TPM, written without opening the volume on the host:
// cryptsetup encrypts the finished ext4 image in place (offline reencryption, no dm,
// no loop), and systemd-cryptenroll seals a new key to the swtpm state the VM will
// boot with (no PCRs: the key is bound to that TPM, so a fresh TPM cannot unseal it),
// then wipes the temporary password slot: the header ends with one systemd-tpm2 token.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { runChecked } from '../util/exec.js';
import { spawn } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { killGroup } from '../vm/process.js';
import { socketAppears } from '../vm/swtpm.js';

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
  return ['systemd-cryptenroll', `--unlock-key-file=${keyFile}`, `--tpm2-device=swtpm:path=${socket}`, '--tpm2-pcrs=', '--wipe-slot=password', image];
}

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

export async function encryptForTpm2(opts: { image: string; workDir: string; tpmStateDir: string; signal?: AbortSignal }): Promise<{ luksUuid: string }> {
  const S = { stage: 'disk' as const, signal: opts.signal };
  const keyFile = join(opts.workDir, 'luks-setup.key');
  writeFileSync(keyFile, randomBytes(64), { mode: 0o600 });
  try {
    await runChecked(encryptArgs(opts.image, keyFile), S);
    mkdirSync(opts.tpmStateDir, { recursive: true, mode: 0o700 });
    const socket = join(opts.workDir, 'enroll-tpm.sock');
    const child = spawn(enrollSwtpmArgs(opts.tpmStateDir, socket), { stage: 'disk' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = child.then(() => undefined);
    try {
      await withDeadline(
        Promise.race([
          Promise.all([socketAppears(socket), socketAppears(`${socket}.ctrl`)]),
          exited.then(() => {
            throw new InfraError('disk', `swtpm exited before listening: ${stderr.trim() || 'no message'}`);
          }),
        ]),
        10_000,
        'swtpm for TPM2 enrollment',
      );
      await runChecked(enrollArgs(opts.image, keyFile, socket), S);
    } finally {
      await killGroup(child, exited, 5000);
      rmSync(socket, { force: true });
      rmSync(`${socket}.ctrl`, { force: true });
    }
    const uuid = (await runChecked(['cryptsetup', 'luksUUID', opts.image], S)).stdout.trim();
    return { luksUuid: uuid };
  } finally {
    rmSync(keyFile, { force: true });
  }
}
