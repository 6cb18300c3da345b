// The suites' test context (Playwright calls these "fixtures"; here a fixture is an image
// recipe, so this file is named for what it gives). `machine` is worker-scoped: one SSH
// session per worker to the VM the CLI booted (a worker restarted after a
// failure reconnects; it never boots a second VM).
import { test as base, expect } from '@playwright/test';
import { readFileSync, statSync } from 'node:fs';
import { Machine, readRunContext, type Manifest, type Profile, type RunContext } from '../harness/src/index.js';

interface WorkerFixtures {
  run: RunContext;
  profile: Profile;
  manifest: Manifest;
  machine: Machine;
}

interface TestFixtures {
  /** A failed test carries the console and the guest's journal from around its time. */
  evidence: void;
}

/** Every guest command a step of its own in the report (with its command line), so a failure shows where. */
function stepped(m: Machine): Machine {
  const exec = m.exec.bind(m);
  m.exec = (command, timeoutMs) => test.step(`guest: ${command.length > 120 ? `${command.slice(0, 117)}...` : command}`, () => exec(command, timeoutMs), { box: true });
  const copyFile = m.copyFile.bind(m);
  m.copyFile = (guestPath, hostPath, maxBytes, timeoutMs) => test.step(`guest: copy ${guestPath} to the host`, () => copyFile(guestPath, hostPath, maxBytes, timeoutMs), { box: true });
  const reboot = m.reboot.bind(m);
  m.reboot = () => test.step('guest: reboot, and SSH ready on the new boot', () => reboot());
  return m;
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  run: [async ({}, use) => use(readRunContext()), { scope: 'worker' }],
  profile: [async ({ run }, use) => use(run.profile), { scope: 'worker' }],
  manifest: [async ({ run }, use) => use(JSON.parse(readFileSync(run.manifestPath, 'utf8')) as Manifest), { scope: 'worker' }],
  machine: [
    async ({ run }, use) => {
      const m = await Machine.waitReady({
        port: run.ssh.port,
        privateKeyPath: run.ssh.privateKeyPath,
        hostKey: run.ssh.hostKey,
        bootMs: run.profile.budgets.bootMs,
      });
      await use(stepped(m));
      m.close();
    },
    { scope: 'worker' },
  ],
  evidence: [
    async ({ run, machine }, use, testInfo) => {
      const consoleAt = statSync(run.consoleLog).size;
      const since = Math.floor(Date.now() / 1000) - 2;
      await use();
      if (testInfo.status === testInfo.expectedStatus) return;
      // The console from a little before the test to now: what the guest said while it ran.
      const text = readFileSync(run.consoleLog, 'utf8');
      const before = text.slice(0, consoleAt).split('\n').slice(-40).join('\n');
      await testInfo.attach('console around the test', { body: `${before}\n--- the test began here ---\n${text.slice(consoleAt)}`, contentType: 'text/plain' });
      // Every boot since then: a test that rebooted the guest has its first half in the boot before.
      const journal = await machine.exec(`journalctl --no-pager -o short-monotonic --since @${since}`, 20_000).catch(() => undefined);
      if (journal) await testInfo.attach('journal since the test began', { body: journal.stdout, contentType: 'text/plain' });
    },
    { auto: true },
  ],
});

export { expect };

/** Quotes a path for the guest shell. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
