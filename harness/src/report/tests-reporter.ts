// A Playwright reporter that writes the tests part of summary.json: id, tier, status, error.
import { writeFileSync } from 'node:fs';
import type { Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import type { TestRecord } from './summary.js';

export default class TestsReporter implements Reporter {
  private records = new Map<string, TestRecord>();
  constructor(private opts: { outputFile: string }) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    // A caller's test (a project "user:DIR", --suites) without a tier tag is the user tier.
    const tier = test.tags.find((t) => /^@tier\d$/.test(t))?.slice(1) ?? (test.parent.project()?.name.startsWith('user:') ? 'user' : 'untiered');
    const error = result.errors.map((e) => (e.message ?? '').replace(/\x1b\[[0-9;]*m/g, '')).join('\n') || undefined;
    // A retried test keeps its last result.
    this.records.set(test.id, {
      id: test.title,
      tier,
      status: result.status,
      ...(error ? { error } : {}),
      ...(test.annotations.length ? { annotations: test.annotations.map((a) => ({ type: a.type, description: a.description })) } : {}),
    });
  }

  onEnd(): void {
    writeFileSync(this.opts.outputFile, JSON.stringify([...this.records.values()], null, 2) + '\n');
  }

  printsToStdio(): boolean {
    return false;
  }
}
