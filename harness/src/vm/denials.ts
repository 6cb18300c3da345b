// The kernel's word on a daemon or QEMU that failed to start: its AppArmor denials (`apparmor="DENIED"`),
// from dmesg, else the kernel journal; bounded, and nothing when neither can be read.
import { basename } from 'node:path';
import { run } from '../util/exec.js';

/** The newest denials for the program `binary` (its comm: 15 bytes of its name) that name `needle`. */
export async function kernelDenials(binary: string, needle: string): Promise<string[]> {
  const comm = basename(binary).slice(0, 15);
  for (const argv of [['dmesg'], ['journalctl', '-k', '-o', 'cat', '--no-pager', '--since', '-10min']]) {
    const r = await run(argv, { stage: 'input', timeoutMs: 10_000 }).catch(() => undefined);
    if (r && r.exitCode === 0) {
      const hits = denialsIn(r.stdout.slice(-4_000_000), comm).filter((l) => l.includes(needle));
      if (hits.length) return hits.slice(-2);
    }
  }
  return [];
}

/** Pure: the clause a failure gets for its denials ("" for none). */
export function denialClause(denials: readonly string[]): string {
  return denials.length ? `; the kernel denied it: ${denials.map((d) => d.replace(/^.*?(apparmor="DENIED")/, '$1')).join(' | ')}` : '';
}

/** Pure: kernel log lines of AppArmor denials (`apparmor="DENIED"`) for `comm`, the newest last. */
export function denialsIn(log: string, comm: string): string[] {
  return log.split('\n').filter((l) => l.includes('apparmor="DENIED"') && (l.includes(`comm="${comm}"`) || l.includes(`profile="${comm}"`)));
}
