// The harness's own tests as CI runs them (`just test`). Every fixture is built in the
// background from the start (`fixtures build`, concurrent, one shared package cache), so
// the long ones (zfs: DKMS) overlap everything else; the unit test files run two at a
// time meanwhile; then the VM test files, in lanes of one file at a time (a lane per two
// cores), those whose fixtures are ready soonest first (a test that needs a fixture still
// being built waits on its lock). Each lane has a work root of its own (BASE/.lanes/N), so
// each file's "nothing left behind" sees its own runs.
// Ends with what every test file and fixture build cost (wall and CPU seconds), and "N passed, N failed".
import { spawn } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tapCosts } from './tap-costs.js';
import { takeCpuSeconds, timedArgv } from '../src/util/child-cpu.js';

const REPO = resolve(import.meta.dirname, '../..');
const TESTS = 'harness/test';
const BIN = join(REPO, 'harness/bin/bootc-harness.js');
const UNIT_ONLY = process.env.BOOTC_HARNESS_UNIT_ONLY === '1';
// One TCG guest keeps ~1.4 cores busy: two lanes on 2 cores oversubscribe them, and then
// guests stall (measured: RCU stalls after a reboot, sshd 85 s late, no wall time won). So a
// lane per two cores: one here, two on a 4-core runner.
const LANES = Math.max(1, Number(process.env.BOOTC_HARNESS_VM_LANES ?? Math.floor(availableParallelism() / 2)));
const WORK = resolve(process.env.BOOTC_HARNESS_WORK ?? '/var/tmp/bootc-harness');
const laneRoot = (i: number) => join(WORK, '.lanes', String(i + 1));

/** VM test files, cheapest fixtures first (trixie and what derives from it), zfs (DKMS) last. */
const VM_ORDER = ['e2e-image', 'e2e-install', 'e2e-package', 'e2e-interrupt', 'e2e-broken', 'e2e-snow', 'e2e-untrusted', 'e2e-tier3', 'e2e-tier4', 'e2e-tier2'];
/** The fixtures in the order the VM files above first need them: the builder takes them in this
 *  order (after the longest, zfs, which starts first so that its DKMS compile ends in time). */
const FIXTURES_BY_NEED = ['trixie', 'broken-panic', 'broken-emergency', 'broken-nossh', 'broken-unit', 'broken-nosuid', 'broken-gains-suid', 'snow-mkosi', 'broken-firstboot', 'luks-tpm2', 'bookworm', 'trixie-6.18', 'trixie-backports', 'zfs', 'zfs-at-boot'];

interface Proc {
  code: number;
  out: string;
  ms: number;
  /** User + system CPU seconds of the child and what it waited for; undefined without GNU time. */
  cpuS: number | undefined;
}

let runs = 0;

function run(argv: string[], opts: { env?: Record<string, string>; echo: 'stdout' | 'prefixed' | 'none'; prefix?: string }): Promise<Proc> {
  const started = Date.now();
  const cpuFile = join(tmpdir(), `bootc-harness-test-all-${process.pid}-${++runs}.cpu`);
  const timed = timedArgv(argv, cpuFile);
  return new Promise((done) => {
    const child = spawn(timed[0]!, timed.slice(1), { cwd: REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    // Prefixed output goes out whole lines at a time: two lanes' lines never splice.
    const partial = new Map<NodeJS.WriteStream, string>();
    const echo = (d: Buffer, to: NodeJS.WriteStream) => {
      if (opts.echo === 'stdout') to.write(d);
      if (opts.echo !== 'prefixed') return;
      const lines = ((partial.get(to) ?? '') + d.toString()).split('\n');
      partial.set(to, lines.pop()!);
      for (const l of lines.filter(Boolean)) to.write(`${opts.prefix} ${l}\n`);
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      echo(d, process.stdout);
    });
    child.stderr.on('data', (d: Buffer) => echo(d, process.stderr));
    child.on('close', (code) => {
      for (const [to, rest] of partial) if (rest) to.write(`${opts.prefix} ${rest}\n`);
      done({ code: code ?? 1, out, ms: Date.now() - started, cpuS: takeCpuSeconds(cpuFile) });
    });
  });
}

async function main(): Promise<number> {
  const all = readdirSync(join(REPO, TESTS)).filter((f) => f.endsWith('.test.ts'));
  const vm = VM_ORDER.map((n) => `${n}.test.ts`).filter((f) => all.includes(f));
  const unknownVm = all.filter((f) => f.startsWith('e2e-') && !vm.includes(f));
  const unit = all.filter((f) => !f.startsWith('e2e-'));
  const path = (f: string) => `${TESTS}/${f}`;

  const known = readdirSync(join(REPO, 'fixtures')).filter((n) => n !== 'common');
  const byNeed = [...FIXTURES_BY_NEED.filter((n) => known.includes(n)), ...known.filter((n) => !FIXTURES_BY_NEED.includes(n))];
  // Whatever runs killed before this one left (a lost job, SIGKILL) goes first: each VM file
  // asserts that *its* runs leave nothing, and every test-install would clean it anyway.
  if (!UNIT_ONLY) for (const root of [WORK, ...Array.from({ length: LANES }, (_, i) => laneRoot(i))]) await run(['node', BIN, 'clean'], { env: { BOOTC_HARNESS_WORK: root }, echo: 'prefixed', prefix: '[clean]' });
  const fixtures = UNIT_ONLY ? undefined : run(['node', BIN, 'fixtures', 'build', ...byNeed], { echo: 'prefixed', prefix: '[fixtures]' });
  const unitRun = await run(['npx', 'tap', '--jobs=2', ...unit.map(path)], { echo: 'stdout' });
  // One tap run per VM file (tap sorts the files it is given), taken in this order by whichever
  // lane is free; a lane's output is prefixed with its number.
  const vmRuns: Proc[] = [];
  const vmStarted = Date.now();
  const queue = UNIT_ONLY ? [] : [...vm, ...unknownVm];
  const lane = async (i: number) => {
    for (let f = queue.shift(); f; f = queue.shift()) vmRuns.push(await run(['npx', 'tap', path(f)], { env: { BOOTC_HARNESS_WORK: laneRoot(i) }, echo: 'prefixed', prefix: `[vm ${i + 1}]` }));
  };
  await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
  // The emptied lane roots, then their parent; one that is not empty was named by its file's failure.
  for (const dir of [...Array.from({ length: LANES }, (_, i) => laneRoot(i)), join(WORK, '.lanes')]) {
    try {
      rmdirSync(dir);
    } catch {
      /* never made, or not empty */
    }
  }
  const vmMs = Date.now() - vmStarted;
  const fx = await fixtures;

  // A VM file is a tap run of its own, so its CPU is its run's; the unit files share one run.
  const costs = [unitRun, ...vmRuns].map((r) => tapCosts(r.out));
  const cpuOf = new Map(vmRuns.map((r, i) => [costs[i + 1]!.files.length === 1 ? costs[i + 1]!.files[0]!.file : '', r.cpuS]));
  const rows = costs.flatMap((c) => c.files).sort((a, b) => b.ms - a.ms);
  const cpu = (s: number | undefined) => (s === undefined ? '-' : s.toFixed(0));
  const pass = costs.reduce((n, c) => n + c.pass, 0);
  const fail = costs.reduce((n, c) => n + c.fail, 0);
  const lines = ['', '## What the tests cost', '', '| test file | seconds | CPU seconds | result |', '|---|---:|---:|---|'];
  for (const r of rows) lines.push(`| ${r.file} | ${(r.ms / 1000).toFixed(0)} | ${cpu(cpuOf.get(r.file))} | ${r.ok ? 'ok' : 'FAILED'} |`);
  lines.push('', `unit files (2 at a time): ${(unitRun.ms / 1000).toFixed(0)} s wall, ${cpu(unitRun.cpuS)} s CPU (all unit files together)`);
  if (vmRuns.length) lines.push(`VM files (${LANES} at a time): ${(vmMs / 1000).toFixed(0)} s wall, ${cpu(vmRuns.reduce((n, r) => n + (r.cpuS ?? 0), 0))} s CPU`);
  if (fx) lines.push('', `## Fixture builds (in the background, from the start: ${(fx.ms / 1000).toFixed(0)} s wall, ${cpu(fx.cpuS)} s CPU, all builds together)`, '', fx.out.trim());
  process.stdout.write(lines.join('\n') + '\n\n');
  const failedRuns = [unitRun, ...vmRuns, fx].filter((r) => r && r.code !== 0).length;
  // A run that failed with no failed test (a crash, a fixture that could not be built) still fails.
  const failCount = fail === 0 && failedRuns > 0 ? 1 : fail;
  process.stdout.write(`${pass} passed, ${failCount} failed\n`);
  return failedRuns > 0 || fail > 0 ? 1 : 0;
}

process.exitCode = await main();
