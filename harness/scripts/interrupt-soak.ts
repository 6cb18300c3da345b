// Soak: N runs of test-install, each interrupted (SIGINT or SIGTERM) at a random
// moment, each followed by a leftover check. `just soak-interrupt 20`.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';

const BIN = resolve(import.meta.dirname, '../bin/bootc-harness.js');
const runs = Number(process.argv[2] ?? 20);
// A default-fixture run takes ~110 s here: signals land anywhere inside it.
const maxDelayMs = Number(process.argv[3] ?? 100_000);

function once(delayMs: number, signal: NodeJS.Signals): Promise<{ code: number | null; stage: string; stopMs: number }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'test-install', '--tier', '0,1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sentAt = 0;
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      sentAt = Date.now();
      child.kill(signal);
    }, delayMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stages = [...stderr.matchAll(/bootc-harness: (image|disk|vm|session): /g)].map((m) => m[1]);
      done({ code, stage: sentAt ? (stages.pop() ?? 'start') : 'finished', stopMs: sentAt ? Date.now() - sentAt : 0 });
    });
  });
}

let dirty = 0;
for (let i = 1; i <= runs; i++) {
  const delay = Math.floor(Math.random() * maxDelayMs);
  const signal: NodeJS.Signals = Math.random() < 0.5 ? 'SIGINT' : 'SIGTERM';
  const r = await once(delay, signal);
  const left = await findLeftovers();
  // A signal must always end in 130, cleanly; a run that finished first must still be clean.
  if (left.length || (r.stage !== 'finished' && r.code !== 130)) dirty++;
  console.log(
    `run ${i}/${runs}: ${signal} after ${(delay / 1000).toFixed(1)} s in ${r.stage}, exit ${r.code}, stopped in ${(r.stopMs / 1000).toFixed(1)} s, leftovers: ${left.length ? JSON.stringify(left) : 'none'}`,
  );
}
console.log(`${runs - dirty} passed, ${dirty} failed`);
process.exitCode = dirty ? 1 : 0;
