// Pure: reports/<run>/index.html, the page a report opens on: the run (image, profile and
// why, installer, kernel and its tier, accelerator and why), its verdict per tier, its stages
// with their times, each test with its message, and the error with the console around it.
// Playwright's own report, with every test's steps and attachments, is one link away.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pointLatest, writeSummary, type Summary, type TestRecord } from './summary.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function row(cells: unknown[], tag = 'td'): string {
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function testRows(tests: readonly TestRecord[]): string {
  const order = (t: TestRecord) => (t.status === 'failed' || t.status === 'timedOut' || t.status === 'interrupted' ? 0 : t.status === 'passed' ? 1 : 2);
  return [...tests]
    .sort((a, b) => order(a) - order(b) || a.tier.localeCompare(b.tier))
    .map((t) => {
      const warnings = (t.annotations ?? []).filter((a) => /warning$/.test(a.type)).map((a) => `${a.type}: ${a.description ?? ''}`);
      const why = [t.error ?? t.annotations?.find((a) => a.type === 'skip')?.description ?? '', ...warnings].filter(Boolean).join('\n');
      return `<tr class="${esc(t.status)}"><td>${esc(t.tier)}</td><td class="id">${esc(t.id)}</td><td>${esc(t.status)}</td><td><pre>${esc(why)}</pre></td></tr>`;
    })
    .join('\n');
}

export interface RunPageLinks {
  /** Playwright's report, relative to the page; absent when no suite ran. */
  playwright?: string;
  files: string[];
  /** The console's last lines, shown when the run did not pass. */
  consoleTail?: string;
}

export function runPage(s: Summary, links: RunPageLinks): string {
  const count = (tier: string, st: string) => s.tests.filter((t) => t.tier === tier && (t.status === st || (st === 'failed' && t.status === 'timedOut'))).length;
  const facts: [string, string][] = [
    ['source', s.source + (s.sourceDetected ? ` (${s.sourceDetected})` : '')],
    ['image', `${s.image.ref || '-'}${s.image.digest ? ` ${s.image.digest}` : ''}`],
    ['profile', `${s.profile}${s.profileReason ? ` (${s.profileReason})` : ''}`],
    ['installer', `${s.installer}${s.placement ? `, installer step ${s.placement === 'vm' ? 'in the installer VM' : 'on the host'}` : ''}${s.luks ? `, LUKS ${s.luks}` : ''}${s.rootLayout ? `, root ${s.rootLayout}` : ''}`],
    ['kernel', s.kernel.release ? `${s.kernel.release} (${s.kernel.tier} tier)` : '-'],
    ['accelerator', s.accel ? `${s.accel} (${s.accelReason})` : '-'],
    ...(s.vcpus ? [['vCPUs', `${s.vcpus.count} (${s.vcpus.why})`] as [string, string]] : []),
    ['disk', s.diskKey ? `cache entry ${s.diskKey}` : '-'],
    ['time', `${s.startedAt} to ${s.finishedAt}`],
  ];
  const sec = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
  if (s.boot) facts.push(['boot', `firmware ${sec(s.boot.firmwareMs)}, kernel to sshd listening ${sec(s.boot.kernelToSshdMs)}, sshd listening to ready ${sec(s.boot.sshdToReadyMs)}${s.boot.sshdToAuthMs !== undefined ? ` (the guest accepted the key after ${sec(s.boot.sshdToAuthMs)})` : ''}; VM start to ready ${sec(s.boot.vmToReadyMs)}`]);
  if (s.retries?.length) facts.push(['retried', s.retries.map((r) => `${r.stage}: ${r.reason}`).join('; ')]);
  const tiers = Object.entries(s.tiers ?? {});
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(s.verdict.toUpperCase())}: ${esc(s.source)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222 }
h1 { font-size: 1.4em } h1 .verdict { padding: .1em .5em; border-radius: .3em; color: #fff }
.v-passed { background: #2a7d2a } .v-failed { background: #b3261e } .v-error { background: #8a5a00 }
table { border-collapse: collapse; margin: .5em 0 1.5em } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top }
tr.failed, tr.timedOut { background: #fde7e7 } tr.skipped { color: #777 } pre { margin: 0; white-space: pre-wrap; font-size: 12px }
.id { font-family: monospace }
</style></head>
<body>
<h1 id="verdict"><span class="verdict v-${esc(s.verdict)}">${esc(s.verdict.toUpperCase())}</span> ${esc(s.source)} (exit ${esc(s.exitCode)})</h1>
<table id="run">${facts.map(([k, v]) => row([esc(k), esc(v)])).join('\n')}</table>
<h2>Tiers</h2>
<table id="tiers">${row(['tier', 'status', 'passed', 'failed', 'skipped'], 'th')}
${tiers.map(([t, st]) => row([esc(t), esc(st), count(t, 'passed'), count(t, 'failed'), count(t, 'skipped')])).join('\n')}</table>
${s.error ? `<h2>Error</h2><div id="error"><p>[${esc(s.error.stage)}] ${esc(s.error.message.split('\n')[0])}</p><pre>${esc(s.error.message)}</pre>${s.error.consoleTail ? `<h3>Console</h3><pre id="console">${esc(s.error.consoleTail)}</pre>` : ''}</div>` : ''}
${s.verdict !== 'passed' && links.consoleTail && !s.error?.consoleTail ? `<h2>Console (its last lines)</h2><pre id="console">${esc(links.consoleTail)}</pre>` : ''}
<h2>Tests</h2>
<table id="tests">${row(['tier', 'test', 'status', 'message'], 'th')}
${testRows(s.tests)}</table>
<h2>Stages</h2>
<table id="stages">${row(['stage', 'seconds', 'cached', 'error'], 'th')}
${s.stages.map((st) => row([esc(st.name), (st.ms / 1000).toFixed(1), st.cached ? 'yes' : '', esc(st.error?.split('\n')[0] ?? '')])).join('\n')}</table>
<h2>Files</h2>
<ul>${links.playwright ? `<li><a href="${esc(links.playwright)}">the suites' report (every test, its steps and attachments)</a></li>` : ''}
${links.files.map((f) => `<li><a href="${esc(f)}">${esc(f)}</a></li>`).join('\n')}</ul>
</body></html>
`;
}

/** summary.json, the run page beside what it links to (only the files that exist), and reports/latest. */
export function writeReport(reports: string, runId: string, s: Summary): void {
  const runDir = join(reports, runId);
  writeSummary(runDir, s);
  const has = (f: string) => existsSync(join(runDir, f));
  const files = ['summary.json', 'run.log', 'console.log', 'journal.txt', 'boot-analysis.txt', 'installer-console.log', 'junit.xml', 'manifest.json'].filter(has);
  const consoleTail = has('console.log') ? readFileSync(join(runDir, 'console.log'), 'utf8').trimEnd().split('\n').slice(-40).join('\n') : undefined;
  const page = runPage(s, { ...(has('tests/index.html') ? { playwright: 'tests/index.html' } : {}), files, ...(consoleTail ? { consoleTail } : {}) });
  writeFileSync(join(runDir, 'index.html'), page);
  pointLatest(reports, runId);
}
