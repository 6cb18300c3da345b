// The kernel's word on a tool that failed to start: its AppArmor denials (`apparmor="DENIED"`),
// from dmesg, else the kernel journal; bounded, and nothing when neither can be read.
import { basename } from 'node:path';
import { run } from '../util/exec.js';
import { denialsIn } from './apparmor.js';

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
