// Speed targets live here, not in timed tests. `just bench [RUNS]` runs test-install
// on the default fixture RUNS times and reports each stage's median against its target.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../bin/bootc-harness.js');
const runs = Number(process.argv[2] ?? 3);

// Targets in ms, for this 2-core TCG machine; with KVM everything is far below them.
const TARGETS: Record<string, number> = {
  image: 30_000, // cached fixture image: read back + verify
  disk: 45_000, // mke2fs -d of a ~360 MB rootfs + ESP
  vm: 5_000, // swtpm + QEMU up, QMP connected
  session: 120_000, // firmware + kernel + systemd to an SSH round trip (TCG)
  suites: 30_000,
  shutdown: 20_000,
};

const samples: Record<string, number[]> = {};
for (let i = 1; i <= runs; i++) {
  const r = spawnSync(process.execPath, [BIN, 'test-install', '--tier', '0,1'], { encoding: 'utf8' });
  const m = /^report: (.+)$/m.exec(r.stdout + r.stderr);
  if (r.status !== 0 || !m) {
    console.error(`run ${i}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
    process.exit(1);
  }
  const summary = JSON.parse(readFileSync(resolve(m[1]!, 'summary.json'), 'utf8')) as { stages: { name: string; ms: number }[]; accel: string };
  for (const s of summary.stages) (samples[s.name] ??= []).push(s.ms);
  console.log(`run ${i}/${runs} (${summary.accel}): ${summary.stages.map((s) => `${s.name} ${(s.ms / 1000).toFixed(1)} s`).join(', ')}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let over = 0;
console.log('\nstage      median     target');
for (const [name, xs] of Object.entries(samples)) {
  const med = median(xs);
  const target = TARGETS[name];
  const ok = target === undefined || med <= target;
  if (!ok) over++;
  console.log(`${name.padEnd(10)} ${(med / 1000).toFixed(1).padStart(6)} s ${target ? `${(target / 1000).toFixed(0).padStart(6)} s` : '     -  '} ${ok ? 'ok' : 'OVER'}`);
}
process.exitCode = over ? 1 : 0;
