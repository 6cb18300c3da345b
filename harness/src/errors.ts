// Error classes the CLI maps to exit codes in one place (cli/exit-codes.ts).
// Infrastructure failures and assertion failures are different classes on purpose:
// "the image is broken" and "the harness could not tell" must never look alike.

export type Stage = 'input' | 'fixture' | 'image' | 'disk' | 'vm' | 'session' | 'suites' | 'report' | 'shutdown' | 'keep' | 'pre' | 'host';

/** Bad input or usage: one clear line, exit 2, nothing started. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The harness or a tool failed: no boot, timeout, tool missing. Exit 3. */
export class InfraError extends Error {
  override name = 'InfraError';
  readonly stage: Stage;
  readonly budgetMs?: number;
  readonly consoleTail?: string;
  constructor(stage: Stage, message: string, opts: { cause?: unknown; budgetMs?: number; consoleTail?: string } = {}) {
    super(`[${stage}] ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.stage = stage;
    this.budgetMs = opts.budgetMs;
    this.consoleTail = opts.consoleTail;
  }
}

/** The image is wrong: an assertion about it failed. Exit 1. */
export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
  readonly stage: Stage;
  readonly consoleTail?: string;
  constructor(stage: Stage, message: string, opts: { consoleTail?: string } = {}) {
    super(`[${stage}] ${message}`);
    this.stage = stage;
    this.consoleTail = opts.consoleTail;
  }
}

/** Several teardown steps failed; all are kept. */
export class TeardownError extends AggregateError {
  override name = 'TeardownError';
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
