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

export function cli(args: string[], env: Record<string, string> = {}, cwd = REPO): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** The CLI (or any argv) on a real terminal: script(1) gives it a pty of `rows` x `cols`, as a
 *  person's terminal would. stdout and stderr arrive merged, as on a screen; `raw` keeps the
 *  escape sequences, `stdout`/`stderr` are the text without them (and without carriage returns). */
export function inPty(argv: string[], env: Record<string, string> = {}, size = { rows: 40, cols: 120 }): Promise<CliResult & { raw: string }> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `stty rows ${size.rows} cols ${size.cols}; exec ${argv.map(q).join(' ')}`;
  return new Promise((resolvePromise) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO, env: { ...process.env, CI: '', TERM: 'xterm-256color', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let raw = '';
    child.stdout.on('data', (d) => (raw += d));
    child.stderr.on('data', (d) => (raw += d));
    child.on('close', (code) => {
      // eslint-disable-next-line no-control-regex
      const text = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
      resolvePromise({ code, stdout: text, stderr: text, raw });
    });
  });
}
