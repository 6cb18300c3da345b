// The one module that imports execa: every external tool goes through here,
// as an argv array, never a shell string.
import { execa, type ResultPromise } from 'execa';
import { InfraError, type Stage } from '../errors.js';
import { killGroup } from './process-group.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stage: Stage;
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Text or binary stdout; binary returns latin1 so bytes survive. */
  encoding?: 'utf8' | 'latin1';
  signal?: AbortSignal;
  /** Each line of stderr as it comes (a long tool's progress); stderr is still returned whole. */
  onStderrLine?: (line: string) => void;
  /** Most bytes kept of stdout and of stderr each; more ends the tool (default 512 MiB). */
  maxOutputBytes?: number;
  /** How an error names the command (default: its file), e.g. "sqlite3 on /var/lib/rpm/rpmdb.sqlite". */
  what?: string;
}

/** The output limit when a caller names none: a tool reading the host's own data. */
export const DEFAULT_MAX_OUTPUT = 512 * 1024 * 1024;

/** A tool stopped for its deadline or its output limit: what went over, for the caller to name. */
export class ToolOverrun extends InfraError {
  override name = 'ToolOverrun';
  constructor(stage: Stage, readonly what: string, readonly why: 'timed out' | 'too much output', message: string, budgetMs?: number) {
    super(stage, message, budgetMs === undefined ? {} : { budgetMs });
  }
}

/** Runs a tool to completion; never throws on a non-zero exit (inspect exitCode). */
export async function run(argv: readonly string[], opts: RunOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new InfraError(opts.stage, 'empty command line');
  const signal = opts.signal;
  const what = opts.what ?? file;
  const maxBuffer = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  if (signal?.aborted) throw new InfraError(opts.stage, `${what}: cancelled`);
  try {
    const sub = execa(file, args, {
      cwd: opts.cwd,
      input: opts.input,
      env: opts.env,
      extendEnv: true,
      reject: false,
      stripFinalNewline: false,
      timeout: opts.timeoutMs,
      encoding: opts.encoding === 'latin1' ? 'latin1' : 'utf8',
      maxBuffer,
      ...(opts.onStderrLine ? { stderr: [lineTap(opts.onStderrLine)] } : {}),
      // A cancellable tool gets its own process group, and cancelling stops the whole group:
      // tools like mmdebstrap fork workers that outlive a SIGTERM to the parent alone and
      // hold its pipes open.
      detached: signal !== undefined,
      cleanup: true,
    });
    const exited = sub.then(() => undefined);
    const onAbort = () => void killGroup(sub as unknown as Child, exited, 5_000);
    signal?.addEventListener('abort', onAbort, { once: true });
    const r = await sub.finally(() => signal?.removeEventListener('abort', onAbort));
    // Whatever status a cancelled tool died with, it was cancelled.
    if (signal?.aborted) throw new InfraError(opts.stage, `${what}: cancelled`);
    if (r.isMaxBuffer) throw new ToolOverrun(opts.stage, what, 'too much output', `${what}: stopped after more than ${maxBuffer} bytes of output`);
    if (r.timedOut) throw new ToolOverrun(opts.stage, what, 'timed out', `${what}: timed out after ${opts.timeoutMs} ms`, opts.timeoutMs);
    if (r.failed && r.exitCode === undefined) {
      // Could not start, timed out or was killed: an infrastructure failure, not an exit status.
      const why = (r.cause as Error | undefined)?.message ?? r.shortMessage;
      throw new InfraError(opts.stage, `${what}: ${why}`, { cause: r.cause });
    }
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } catch (err) {
    if (err instanceof InfraError) throw err;
    throw new InfraError(opts.stage, `${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** An execa line transform that hands each line on unchanged and tells `see` of it. */
function lineTap(see: (line: string) => void) {
  return function* (line: unknown) {
    see(String(line));
    yield line;
  };
}

/** Runs a tool and throws an InfraError naming the command and its stderr when it fails. */
export async function runChecked(argv: readonly string[], opts: RunOptions): Promise<ExecResult> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-6).join('\n');
    throw new InfraError(opts.stage, `${argv.slice(0, 3).join(' ')}${argv.length > 3 ? ' …' : ''} exited ${r.exitCode}${tail ? `: ${tail}` : ''}`);
  }
  return r;
}

export interface SpawnOptions {
  stage: Stage;
  cwd?: string;
  env?: Record<string, string>;
  /** Own process group, so teardown can kill the whole tree. */
  detached?: boolean;
}

export type Child = ResultPromise<{ reject: false; stdin: 'ignore'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; detached: boolean }>;

/** Starts a long-lived process (qemu, swtpm); the caller owns its lifetime. */
export function spawn(argv: readonly string[], opts: SpawnOptions): Child {
  const [file, ...args] = argv;
  if (!file) throw new InfraError(opts.stage, 'empty command line');
  return execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    detached: opts.detached ?? true,
    cleanup: true,
  }) as Child;
}


/** Runs a tool with its output passed through to ours (the test runner); returns the exit code. */
export async function runInherit(
  argv: readonly string[],
  opts: { stage: Stage; cwd?: string; env?: Record<string, string>; signal?: AbortSignal; stdin?: 'ignore' | 'inherit'; stdoutToStderr?: boolean },
): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new InfraError(opts.stage, 'empty command line');
  // stdoutToStderr: our stdout is someone's data (--json); the tool's output goes to stderr.
  const r = await execa(file, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.stdin ?? 'ignore', opts.stdoutToStderr ? 2 : 'inherit', 'inherit'], reject: false, cancelSignal: opts.signal, forceKillAfterDelay: 5000 });
  if (r.exitCode === undefined) throw new InfraError(opts.stage, `${file}: ${r.shortMessage}`, { cause: r.cause });
  return r.exitCode;
}
