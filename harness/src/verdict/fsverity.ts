// The fs-verity digest of a file, measured on the host by Debian's `fsverity digest`
// (fsverity-utils): a composefs digest IS the fs-verity digest of the EROFS image file
// (sha256, 4096-byte blocks, no salt: what mkcomposefs --print-digest prints and what
// composefs= names), so an image's bytes measured here answer which image a guest booted,
// whether or not its file system can enable verity.
import { InfraError } from '../errors.js';
import { run } from '../util/exec.js';

/** Pure: `fsverity digest --compact`'s line, the hex digest; undefined when it is not one. */
export function parseFsverityDigest(stdout: string): string | undefined {
  const d = stdout.trim().replace(/^sha256:/, '').split(/\s+/)[0] ?? '';
  return /^[0-9a-f]{64}$/.test(d) ? d : undefined;
}

/** The sha256 fs-verity digest (4096-byte blocks, no salt) of a host file, hex. */
export async function fsverityDigest(path: string, timeoutMs = 120_000): Promise<string> {
  const r = await run(['fsverity', 'digest', '--hash-alg=sha256', '--block-size=4096', '--compact', path], { stage: 'suites', timeoutMs });
  const d = r.exitCode === 0 ? parseFsverityDigest(r.stdout) : undefined;
  if (!d) throw new InfraError('suites', `fsverity digest ${path} exited ${r.exitCode}: ${(r.stderr.trim() || r.stdout.trim()).split('\n')[0]} (Debian package fsverity; run: just setup)`);
  return d;
}
