// Per-run SSH keys: generated in-process, written 0600 inside the run's work dir, never printed.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface RunKey {
  privateKeyPath: string;
  publicKey: string;
}

export function generateRunKey(dir: string): RunKey {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'bootc-harness' });
  const privateKeyPath = join(dir, 'id_ed25519');
  writeFileSync(privateKeyPath, pair.private, { mode: 0o600 });
  writeFileSync(`${privateKeyPath}.pub`, pair.public + '\n', { mode: 0o600 });
  return { privateKeyPath, publicKey: pair.public.trim() };
}

/** OpenSSH-style fingerprint of a host key blob. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** Pure: a host key blob as OpenSSH's known_hosts writes it: its type (the blob's first field), then the blob in base64. */
export function knownHostsKey(keyBlob: Buffer): string {
  const len = keyBlob.readUInt32BE(0);
  return `${keyBlob.subarray(4, 4 + len).toString('ascii')} ${keyBlob.toString('base64')}`;
}
