// `just bench`: speed targets live here, not in timed tests. On the default fixture, in one run:
//   cold     no caches for the image: its fixture rootfs rebuilt (packages from the download
//            cache: the mirror is not the image), its image packaged, its disk installed
//   cold, rootfs kept   the same with the rootfs kept: what a user's own rootfs directory
//            (output/snow) costs cold; also fills the disk cache
//   warm     the same input again: every cache hits
//   baseline the warm run's disk booted by plain QEMU with the same firmware, and `ssh` tried
//            every 2 s until it answers, as a bash harness does
// Warm and baseline run ROUNDS times, interleaved, and their medians are compared: on this
// machine (itself a VM on a shared host) one TCG boot varies by a third from the next.
// It writes reports/bench.json with every figure and the ratios, prints them, and exits 1
// when a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import getPort from 'get-port';
import { qemuArgs, OVMF_CODE_CANDIDATES, OVMF_VARS_CANDIDATES } from '../src/vm/qemu-args.js';
import { Swtpm } from '../src/vm/swtpm.js';
import { imagesOf, removeImage } from '../src/image/buildah.js';
import type { Summary } from '../src/report/summary.js';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = resolve(REPO, 'harness/bin/bootc-harness.js');
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO });

function runOnce(what: string, args: string[]): { summary: Summary; wallMs: number } {
  const t0 = Date.now();
  const r = cli(['test-install', '--tier', '0,1', ...args]);
  const wallMs = Date.now() - t0;
  const m = /^report: (.+)$/m.exec(r.stdout);
  if (r.status !== 0 || !m) {
    console.error(`${what}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
    process.exit(2);
  }
  const summary = JSON.parse(readFileSync(join(m[1]!, 'summary.json'), 'utf8')) as Summary;
  console.log(`${what}: ${(wallMs / 1000).toFixed(1)} s; ${summary.stages.map((s) => `${s.name} ${(s.ms / 1000).toFixed(1)}${s.cached ? ' (cached)' : ''}`).join(', ')}`);
  return { summary, wallMs };
}

const stage = (s: Summary, name: string) => s.stages.find((x) => x.name === name)?.ms ?? 0;

/** Plain QEMU on the cached disk (an overlay and a TPM, like the harness), `ssh true` every 2 s: boot to SSH, in ms. */
async function baseline(diskKey: string): Promise<number> {
  const entry = join('/var/cache/bootc-harness/disks', diskKey);
  const dir = mkdtempSync('/var/tmp/bh-bench-');
  try {
    const overlay = join(dir, 'boot.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(entry, 'disk.raw'), '-F', 'raw', overlay]);
    copyFileSync(join(entry, 'id_ed25519'), join(dir, 'key'));
    const vars = join(dir, 'vars.fd');
    copyFileSync(OVMF_VARS_CANDIDATES.find((p) => existsSync(p))!, vars);
    const port = await getPort({ host: '127.0.0.1' });
    // The same VM as the harness's (its qemuArgs, a TPM: the firmware then measures the kernel
    // and initrd, seconds under TCG), so the comparison is of the waiting, not of the hardware.
    const tpm = await Swtpm.start(join(dir, 'tpm'), join(dir, 'tpm.sock'));
    const argv = qemuArgs({ accel: 'tcg', cpus: 2, memoryMiB: 2048, ovmfCode: OVMF_CODE_CANDIDATES.find((p) => existsSync(p))!, ovmfVars: vars, disk: { path: overlay, format: 'qcow2' }, sshPort: port, qmpSocket: join(dir, 'qmp.sock'), tpmSocket: tpm.socket });
    const t0 = Date.now();
    const qemu = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    try {
      for (;;) {
        const r = spawnSync('ssh', ['-i', join(dir, 'key'), '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=2', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', 'true']);
        if (r.status === 0) return Date.now() - t0;
        if (Date.now() - t0 > 300_000) throw new Error('baseline: no SSH within 300 s');
        // The bash harness being compared: a fixed 2 s between attempts (this script's only sleep).
        spawnSync('sleep', ['2']);
      }
    } finally {
      qemu.kill('SIGKILL');
      await tpm.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const built = cli(['fixtures', 'build', 'trixie']);
if (built.status !== 0) throw new Error(built.stderr);
const fixtureDir = dirname(built.stdout.trim().split(' ')[0]!);
const removeImages = async () => {
  for (const ref of await imagesOf('localhost/bootc-harness/trixie')) await removeImage(ref);
};
// Cold: nothing of the image cached: its rootfs rebuilt, its image repackaged, its disk installed.
await removeImages();
rmSync(fixtureDir, { recursive: true, force: true });
const cold = runOnce('cold', ['--no-disk-cache']);
// Cold with the rootfs kept (a user's own directory): repackaged, installed, the disk cached.
await removeImages();
const coldRootfsKept = runOnce('cold, rootfs kept', []);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const warms: ReturnType<typeof runOnce>[] = [];
const baselines: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  warms.push(runOnce(`warm ${i + 1}`, []));
  baselines.push(await baseline(warms[i]!.summary.diskKey!));
  console.log(`baseline ${i + 1}: plain QEMU to a working ssh in ${(baselines[i]! / 1000).toFixed(1)} s`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The median warm run by wall time stands for warm; the baseline is the median of its own.
const warm = [...warms].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(warms.length / 2)]!;
const baseMs = median(baselines);
const w = warm.summary;
const boot = w.boot!;
const testsMs = stage(w, 'suites');
const figures = {
  coldMs: cold.wallMs,
  coldRootfsKeptMs: coldRootfsKept.wallMs,
  warmMs: warm.wallMs,
  warmImageDiskVmMs: stage(w, 'image') + stage(w, 'pre') + stage(w, 'disk') + stage(w, 'vm'),
  warmBootToReadyMs: boot.vmToReadyMs,
  sshdToReadyMs: boot.sshdToReadyMs,
  sshdToAuthMs: boot.sshdToAuthMs,
  firmwareMs: boot.firmwareMs,
  kernelToSshdMs: boot.kernelToSshdMs,
  baselineBootToSshMs: baseMs,
  testsMs,
};
const samples = { warmMs: warms.map((x) => x.wallMs), warmBootToReadyMs: warms.map((x) => x.summary.boot?.vmToReadyMs), sshdToReadyMs: warms.map((x) => x.summary.boot?.sshdToReadyMs), baselineBootToSshMs: baselines };
const ratios = {
  bootToReadyOverBaseline: figures.warmBootToReadyMs / baseMs,
  warmOverBaselinePlusTests: figures.warmMs / (baseMs + testsMs),
  warmOverCold: figures.warmMs / figures.coldMs,
  warmOverColdRootfsKept: figures.warmMs / figures.coldRootfsKeptMs,
};
const targets: [string, boolean][] = [
  ['warm image + disk + vm stages <= 5 s', figures.warmImageDiskVmMs <= 5_000],
  ['boot-to-ready <= 1.05 x baseline boot-to-ssh', ratios.bootToReadyOverBaseline <= 1.05],
  ['sshd listening -> ready <= 2 s', figures.sshdToReadyMs !== undefined && figures.sshdToReadyMs <= 2_000],
  ['warm total <= 1.15 x (baseline boot-to-ssh + tests)', ratios.warmOverBaselinePlusTests <= 1.15],
  ['warm total <= 0.5 x cold', ratios.warmOverCold <= 0.5],
];
mkdirSync(join(REPO, 'reports'), { recursive: true });
writeFileSync(join(REPO, 'reports/bench.json'), JSON.stringify({ at: new Date().toISOString(), accel: w.accel, rounds: ROUNDS, figures, ratios, samples, targets: Object.fromEntries(targets) }, null, 2) + '\n');
console.log('\n' + Object.entries(figures).map(([k, v]) => `${k.padEnd(22)} ${v === undefined ? '?' : `${(v / 1000).toFixed(1)} s`}`).join('\n'));
console.log(Object.entries(ratios).map(([k, v]) => `${k.padEnd(28)} ${v.toFixed(2)}`).join('\n'));
for (const [what, ok] of targets) console.log(`${ok ? 'ok  ' : 'MISS'} ${what}`);
console.log('reports/bench.json');
process.exitCode = targets.every(([, ok]) => ok) ? 0 : 1;
