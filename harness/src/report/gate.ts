// One screen for the release gate: each required tier's verdict and counts, the kernel,
// the image digest, where the report is.
import type { Summary } from './summary.js';

/** A required tier's key in summary.tiers: 2 -> tier2; "user" (the caller's suites) as it is. */
const tierKey = (t: number | string) => (typeof t === 'number' ? `tier${t}` : t);

/** Pure: the gate's summary screen. */
export function gateScreen(s: Summary, required: readonly (number | string)[], runDir: string): string {
  const lines: string[] = [];
  const ok = required.every((t) => s.tiers?.[tierKey(t)] === 'passed');
  lines.push(`gate: ${ok ? 'PASSED' : 'FAILED'}: required tiers ${required.join(', ')} of ${s.source} (profile ${s.profile})`);
  lines.push('');
  lines.push('  tier    status          passed  failed  skipped');
  for (const t of required) {
    const tier = tierKey(t);
    const mine = s.tests.filter((x) => x.tier === tier);
    const n = (st: string) => mine.filter((x) => x.status === st).length;
    const status = s.tiers?.[tier] ?? (s.verdict === 'error' ? 'not run (error)' : 'not-tested');
    lines.push(`  ${tier.padEnd(7)} ${status.padEnd(15)} ${String(n('passed')).padStart(6)}  ${String(n('failed') + n('timedOut')).padStart(6)}  ${String(n('skipped')).padStart(7)}`);
    if (status !== 'passed') {
      for (const x of mine.filter((x) => x.status === 'skipped')) lines.push(`            ${x.id}: skipped (${x.annotations?.find((a) => a.type === 'skip')?.description ?? 'no reason given'})`);
      for (const x of mine.filter((x) => x.status === 'failed' || x.status === 'timedOut')) lines.push(`            ${x.id}: ${(x.error ?? 'failed').split('\n')[0]}`);
    }
  }
  lines.push('');
  lines.push(`  kernel  ${s.kernel.release || '-'} (${s.kernel.tier || 'unknown'} tier)`);
  lines.push(`  image   ${s.image.ref || '-'}${s.image.digest ? ` ${s.image.digest}` : ''}`);
  if (s.error) lines.push(`  error   ${s.error.message.split('\n')[0]}`);
  lines.push(`  report  ${runDir || '-'}`);
  return lines.join('\n') + '\n';
}
