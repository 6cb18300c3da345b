// Ctrl-C at any stage: the run stops, tears everything down and exits 130,
// leaving no qemu, swtpm, buildah container, mount, loop device or work dir.
//
// Boots: one partial run per interrupt point, none shared: each run is cut short at
// another moment, and what must hold is that *that* run leaves nothing behind.
import t from 'tap';
import { spawn } from 'node:child_process';
import { findLeftovers } from '../src/run/leftovers.js';
import { BIN, REPO, VM_TESTS } from './helpers/cli.js';

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
