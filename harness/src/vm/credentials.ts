// systemd credentials handed to a VM as SMBIOS type 11 strings (smbios-type-11(7)): the
// installer VM's unit, root's SSH key for images whose installer cannot place it.
import { Buffer } from 'node:buffer';
import { UsageError } from '../errors.js';

/** `-smbios type=11` with one binary (base64) systemd credential (smbios-type-11(7)). */
export function systemdCredentialArgs(name: string, data: string): string[] {
  // A comma would end QEMU's value=; '=' ends the credential name.
  if (!/^[A-Za-z0-9_.@:~\\-]+$/.test(name)) throw new UsageError(`bad credential name ${JSON.stringify(name)}`);
  const b64 = Buffer.from(data, 'utf8').toString('base64');
  return ['-smbios', `type=11,value=io.systemd.credential.binary:${name}=${b64}`];
}

/** root's authorized_keys as the `ssh.authorized_keys.root` credential (systemd's provision.conf
 *  writes it to /root/.ssh/authorized_keys). Base64, so key comments need no QEMU escaping. */
export function rootKeyCredentialQemuArgs(authorizedKeys: string): string[] {
  const text = authorizedKeys.endsWith('\n') ? authorizedKeys : authorizedKeys + '\n';
  if (text.trim() === '') throw new UsageError('empty authorized_keys');
  return systemdCredentialArgs('ssh.authorized_keys.root', text);
}
