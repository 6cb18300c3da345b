// `just bench-jobs`: what `matrix --jobs` should default to, measured. Two warm matrix rows
// (their images and disks cached), run twice: one VM at a time with every host core as its
// vCPUs, and two VMs at once sharing them (vm/vcpus.ts: under TCG a vCPU is a host thread).
// Writes reports/bench-jobs.json and prints the figures, with the spread of one row's boot
// between the two one-at-a-time runs: a difference inside it is not a finding.
// (Measured here, 2 cores, TCG: 122.3 s one at a time, 114.1 s two at once, 0.93x, while
// the same warm row's boot to ready varied 34.4-42.2 s between runs: run/matrix.ts keeps one
// VM per two cores.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Summary } from '../src/report/summary.js';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = resolve(REPO, 'harness/bin/bootc-harness.js');
const ROWS = process.argv[2] ?? 'trixie,trixie-backports';

interface Row { profile: string; verdict: string; report: string }
function matrix(jobs: number) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'matrix', '--rows', ROWS, '--tier', '0,1', '--jobs', String(jobs)], { encoding: 'utf8', cwd: REPO });
  const wallMs = Date.now() - t0;
  const dir = /^report: (.+)$/m.exec(r.stdout)?.[1];
  if (!dir) throw new Error(`matrix --jobs ${jobs}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const rows = (JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8')) as { rows: Row[] }).rows.map((row) => {
    const s = JSON.parse(readFileSync(join(REPO, 'reports', row.report, 'summary.json'), 'utf8')) as Summary;
    const ms = (n: string) => s.stages.find((x) => x.name === n)?.ms;
    return { profile: row.profile, verdict: row.verdict, vcpus: s.vcpus?.count, sessionMs: ms('session'), suitesMs: ms('suites'), vmToReadyMs: s.boot?.vmToReadyMs };
  });
  console.log(`--jobs ${jobs}: ${(wallMs / 1000).toFixed(1)} s; ${rows.map((x) => `${x.profile} ${x.verdict}, ${x.vcpus} vCPU, boot to ready ${((x.vmToReadyMs ?? 0) / 1000).toFixed(1)} s`).join('; ')}`);
  return { jobs, wallMs, exitCode: r.status, rows };
}

// Warm-up: builds or finds the rows' fixtures, images and disks (kept for the spread only).
const warm = matrix(1);
const one = matrix(1);
const two = matrix(2);
const allPassed = (m: typeof one) => m.exitCode === 0 && m.rows.every((r) => r.verdict === 'passed');
const out = { at: new Date().toISOString(), rows: ROWS.split(','), oneAtATime: one, twoAtOnce: two, ratio: two.wallMs / one.wallMs, twoPassed: allPassed(two), warmUp: warm };
mkdirSync(join(REPO, 'reports'), { recursive: true });
writeFileSync(join(REPO, 'reports', 'bench-jobs.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`two at once / one at a time: ${out.ratio.toFixed(2)} (${out.twoPassed ? 'every row passed' : 'NOT every row passed'})`);
