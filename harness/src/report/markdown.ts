// A finished run for a CI page: the Markdown a GitHub job summary shows ($GITHUB_STEP_SUMMARY)
// and the step outputs a workflow branches on ($GITHUB_OUTPUT), both from summary.json.
import type { Summary, TestRecord } from './summary.js';

const FAILED = new Set<TestRecord['status']>(['failed', 'timedOut', 'interrupted']);

/** Pure: a table cell: one line, pipes escaped, cut short (a cell is not the place for a log). */
function cell(s: string, max = 160): string {
  const line = s.split('\n')[0]!.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** Pure: tiers in reading order: tier0..tier4, the caller's (user), then anything else (pre). */
function tierOrder(a: string, b: string): number {
  const rank = (t: string) => (/^tier\d$/.test(t) ? Number(t.slice(4)) : t === 'user' ? 10 : 20);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Pure: the job summary: the verdict, a row per tier with its counts, and the failed checks. */
export function summaryMarkdown(s: Summary, runDir: string): string {
  const icon = s.verdict === 'passed' ? '✅' : s.verdict === 'failed' ? '❌' : '⚠️';
  const out: string[] = [];
  out.push(`### ${icon} bootc-harness: ${s.verdict.toUpperCase()} — \`${cell(s.source)}\` (profile ${cell(s.profile)})`, '');
  const tiers = [...new Set([...Object.keys(s.tiers ?? {}), ...s.tests.map((t) => t.tier)])].sort(tierOrder);
  out.push('| tier | status | passed | failed | skipped |', '|---|---|--:|--:|--:|');
  for (const tier of tiers) {
    const mine = s.tests.filter((t) => t.tier === tier);
    const n = (f: (t: TestRecord) => boolean) => mine.filter(f).length;
    const failed = n((t) => FAILED.has(t.status));
    const status = s.tiers?.[tier] ?? (failed ? 'failed' : n((t) => t.status === 'passed') ? 'passed' : 'skipped');
    out.push(`| ${tier} | ${status} | ${n((t) => t.status === 'passed')} | ${failed} | ${n((t) => t.status === 'skipped')} |`);
  }
  const failed = s.tests.filter((t) => FAILED.has(t.status));
  if (failed.length) {
    out.push('', '**Failed checks**', '', '| tier | check | why |', '|---|---|---|');
    for (const t of failed) out.push(`| ${t.tier} | ${cell(t.id)} | ${cell(t.error ?? t.status)} |`);
  }
  if (s.error) out.push('', `**Error** in stage \`${s.error.stage}\`: ${cell(s.error.message, 400)}`);
  out.push('', `kernel \`${s.kernel.release || '-'}\` (${s.kernel.tier || 'unknown'} tier) · image \`${s.image.ref || '-'}\`${s.image.digest ? ` \`${s.image.digest}\`` : ''} · exit code ${s.exitCode}`);
  out.push('', `report: \`${runDir}\``);
  return out.join('\n') + '\n';
}

/**
 * Pure: step outputs in the $GITHUB_OUTPUT file's `name=value` lines (GitHub's workflow
 * commands doc: "echo "{name}={value}" >> "$GITHUB_OUTPUT""); every value is one line.
 */
export function githubOutputs(s: Summary, runDir: string): string {
  const one = (v: string) => v.replace(/[\r\n]+/g, ' ');
  return [`verdict=${one(s.verdict)}`, `exit-code=${s.exitCode}`, `report-dir=${one(runDir)}`].join('\n') + '\n';
}
