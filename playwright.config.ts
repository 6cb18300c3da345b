// The VM suites. The CLI (bootc-harness test-install) boots the VM and passes its
// context in BOOTC_HARNESS_CONTEXT; reports land in the run's directory. Two kinds of
// project: the shipped tiers (suites/ beside this file, wherever the package is installed)
// and, after them, each of the caller's suite directories (--suites DIR). Which tests run
// comes per project from run/suites.ts through the environment (SUITES_ENV there).
import { defineConfig, type PlaywrightTestProject } from '@playwright/test';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const runDir = process.env.BOOTC_HARNESS_RUN_DIR ?? join(process.cwd(), 'reports', 'adhoc');
const testMs = Number(process.env.BOOTC_HARNESS_TEST_MS ?? 120_000);
const grep = process.env.BOOTC_HARNESS_GREP;
const userGrep = process.env.BOOTC_HARNESS_USER_GREP;
const userSuites = JSON.parse(process.env.BOOTC_HARNESS_USER_SUITES ?? '[]') as string[];

const projects: PlaywrightTestProject[] = [
  { name: 'tiers', testDir: join(here, 'suites'), testMatch: /.*\.spec\.ts$/, ...(grep ? { grep: new RegExp(grep) } : {}) },
  // "user:DIR": the reporter files a test of these projects without a tier tag under the user tier.
  ...userSuites.map((dir, i) => ({
    name: `user:${basename(dir)}${userSuites.slice(0, i).some((d) => basename(d) === basename(dir)) ? `#${i + 1}` : ''}`,
    testDir: dir,
    testMatch: /.*\.spec\.(ts|mts|js|mjs)$/,
    ...(userGrep ? { grep: new RegExp(userGrep) } : {}),
  })),
];

export default defineConfig({
  // One VM, one worker: tests share the guest, in file order, the tiers' project first.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: testMs,
  outputDir: join(runDir, 'test-results'),
  projects,
  reporter: [
    ['list'],
    ['html', { outputFolder: join(runDir, 'html'), open: 'never' }],
    ['junit', { outputFile: join(runDir, 'junit.xml') }],
    [join(here, 'harness/src/report/tests-reporter.ts'), { outputFile: join(runDir, 'tests.json') }],
  ],
});
