// Ctrl-C at any stage: the run stops, tears everything down and exits 130,
// leaving no qemu, swtpm, buildah container, mount, loop device or work dir. And QEMU
// killed under a booting guest: the run's one retry boots again and passes.
//
// Boots: one partial run per interrupt point, none shared: each run is cut short at
// another moment, and what must hold is that *that* run leaves nothing behind.
import t from 'tap';
import { spawn } from 'node:child_process';
import { findLeftovers } from '../src/run/leftovers.js';
import { BIN, REPO, summaryOf, VM_TESTS } from './helpers/cli.js';

/** Interrupt points: a line the CLI prints when it enters that stage (and what the run needs for it to last). */
const POINTS: [string, RegExp, string[]?][] = [
  ['image stage', /bootc-harness: image: /],
  // A cached disk would make the disk stage instant: this one installs, and is cut short doing so.
  ['disk stage', /bootc-harness: disk: /, ['--no-disk-cache']],
  ['vm stage', /bootc-harness: vm: /],
  ['waiting for ssh', /bootc-harness: session: waiting/],
  ['suites running', /session: ready/],
];

export function interruptAt(pattern: RegExp, signal: NodeJS.Signals, extraDelayMs = 0, args: string[] = []): Promise<{ code: number | null; stderr: string; afterSignalMs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'test-install', '--tier', '0,1', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sentAt = 0;
    child.stdout.resume();
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sentAt && pattern.test(stderr)) {
        sentAt = -1;
        const send = () => {
          sentAt = Date.now();
          child.kill(signal);
        };
        if (extraDelayMs) setTimeout(send, extraDelayMs);
        else send();
      }
    });
    child.on('close', (code) => resolve({ code, stderr, afterSignalMs: sentAt > 0 ? Date.now() - sentAt : -1 }));
  });
}

for (const [name, pattern, args] of POINTS) {
  t.test(`SIGINT during ${name} leaves nothing behind`, { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
    const r = await interruptAt(pattern, 'SIGINT', name === 'suites running' ? 1500 : 0, args);
    t.ok(r.afterSignalMs >= 0, 'the signal was sent');
    t.equal(r.code, 130, `exit 130\n${r.stderr.slice(-1500)}`);
    t.match(r.stderr, /SIGINT: stopping and cleaning up/);
    t.ok(r.afterSignalMs < 60_000, `stopped ${(r.afterSignalMs / 1000).toFixed(1)} s after the signal`);
    t.same(await findLeftovers(), [], 'nothing left behind');
  });
}

t.test('SIGTERM while waiting for ssh leaves nothing behind', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const r = await interruptAt(/session: waiting/, 'SIGTERM', 3000);
  t.equal(r.code, 130, r.stderr.slice(-1500));
  t.same(await findLeftovers(), [], 'nothing left behind');
});

// The one retry the harness allows itself, for real: QEMU dies under a booting guest (killed from
// outside, as the OOM killer or a crash would), and the run boots a second time in the same work
// directory, with a new QEMU, swtpm and overlay, and passes; the summary records the retry.
// Boots: one and a half (the first is killed a few seconds in).
t.test('QEMU killed while the guest boots: the boot is retried once, in the same run, and passes', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string; killed: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'test-install', '--tier', '0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', async (d) => {
      stderr += d;
      if (killed || !/session: waiting/.test(stderr)) return;
      killed = 'pending';
      try {
        const qemu = (await findLeftovers()).find((l) => l.kind === 'process' && / qemu-system-x86_64 -name bootc-harness/.test(` ${l.what.replace(/^\d+ /, '')}`));
        killed = qemu?.pid ? String(qemu.pid) : 'none found';
        if (qemu?.pid) process.kill(qemu.pid, 'SIGKILL');
      } catch (e) {
        killed = `could not look: ${(e as Error).message}`;
      }
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, killed }));
  });
  t.match(r.killed, /^\d+$/, `the booting QEMU was found and killed (${r.killed})`);
  t.equal(r.code, 0, `exit 0: the second attempt booted and tier 0 passed\n${r.stderr.slice(-3000)}`);
  t.match(r.stderr, /boot: retrying once after an infrastructure failure: .*QEMU killed by SIGKILL/, 'the retry is logged with its reason');
  const s = summaryOf(r.stdout);
  t.equal(s.verdict, 'passed');
  t.equal(s.retries?.length, 1, 'summary.json records the one retry');
  t.match(s.retries?.[0]?.reason ?? '', /QEMU killed by SIGKILL/);
  t.same(await findLeftovers(), [], 'nothing left behind: neither attempt');
});
