// Playwright fixtures for the VM suites. `machine` is worker-scoped: one SSH
// session per worker to the VM the CLI booted (a worker restarted after a
// failure reconnects; it never boots a second VM).
import { test as base, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { Machine, readRunContext, type Manifest, type Profile, type RunContext } from '../harness/src/index.js';

interface WorkerFixtures {
  run: RunContext;
  profile: Profile;
  manifest: Manifest;
  machine: Machine;
}

export const test = base.extend<object, WorkerFixtures>({
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
      await use(m);
      m.close();
    },
    { scope: 'worker' },
  ],
});

export { expect };

/** Quotes a path for the guest shell. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
