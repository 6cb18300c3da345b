// The one place errors become exit codes: 0 passed, 1 assertion failed,
// 2 bad input or usage, 3 infrastructure failure.
import { AssertionFailure, InfraError, UsageError } from '../errors.js';

export const EXIT = { passed: 0, failed: 1, usage: 2, infra: 3, interrupted: 130 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof AssertionFailure) return EXIT.failed;
  if (err instanceof InfraError) return EXIT.infra;
  return EXIT.infra;
}

/** One line for bad input; the stage, message and console tail otherwise. */
export function formatError(err: unknown): string {
  if (err instanceof UsageError) return `bootc-harness: ${err.message}`;
  const e = err as Error & { consoleTail?: string; runDir?: string };
  const kind = err instanceof AssertionFailure ? 'FAILED' : 'ERROR';
  let out = `bootc-harness: ${kind}: ${e.message ?? String(err)}`;
  if (e.consoleTail) out += `\n--- console tail ---\n${e.consoleTail}\n---`;
  if (e.runDir) out += `\nreport: ${e.runDir}`;
  return out;
}
