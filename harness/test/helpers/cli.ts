// Runs the real CLI as a user would, for the end-to-end tests.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Summary } from '../../src/report/summary.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const BIN = resolve(REPO, 'harness/bin/bootc-harness.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

export const VM_TESTS = process.env.BOOTC_HARNESS_UNIT_ONLY !== '1';

/** The summary.json of the run a CLI output names with "report: DIR". */
export function summaryOf(out: string): Summary {
  const m = /^report: (.+)$/m.exec(out);
  if (!m) throw new Error(`the run names no report:\n${out.slice(-2000)}`);
  return JSON.parse(readFileSync(join(m[1]!, 'summary.json'), 'utf8')) as Summary;
}
