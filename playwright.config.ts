// The VM suites. The CLI (bootc-harness test-install) boots the VM and passes its
// context in BOOTC_HARNESS_CONTEXT; reports land in the run's directory.
import { defineConfig } from '@playwright/test';
import { join } from 'node:path';

const runDir = process.env.BOOTC_HARNESS_RUN_DIR ?? join(process.cwd(), 'reports', 'adhoc');
const testMs = Number(process.env.BOOTC_HARNESS_TEST_MS ?? 120_000);

export default defineConfig({
  testDir: './suites',
  testMatch: /.*\.spec\.ts$/,
  // One VM, one worker: tests share the guest, in file order.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: testMs,
  outputDir: join(runDir, 'test-results'),
  reporter: [
    ['list'],
    ['html', { outputFolder: join(runDir, 'html'), open: 'never' }],
    ['junit', { outputFile: join(runDir, 'junit.xml') }],
    ['./harness/src/report/tests-reporter.ts', { outputFile: join(runDir, 'tests.json') }],
  ],
});
