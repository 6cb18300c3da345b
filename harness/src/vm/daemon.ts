// Daemons that serve unix sockets (swtpm, virtiofsd, QEMU's monitor): started in their own
// process group, ready once their sockets exist and listen, stopped for sure.
import { existsSync, rmSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { InfraError, type Stage } from '../errors.js';
import { spawn } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { killGroup } from '../util/process-group.js';
import { denialClause, kernelDenials } from './denials.js';
import { listensOn } from './unix-listen.js';

/**
 * Resolves when `path` exists: an fs.watch event on its directory, no polling. Pass a signal
 * and abort it once the race is decided, so a lost race does not leave the watcher open.
 */
export function socketAppears(path: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const w = watch(dirname(path), (_e, name) => {
      if (name === basename(path) && existsSync(path)) done(resolve);
    });
    const onAbort = () => done(() => reject(signal?.reason));
    function done(settle: () => void) {
      w.close();
      signal?.removeEventListener('abort', onAbort);
      settle();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (existsSync(path)) done(resolve);
  });
}

/** Waits for a daemon's sockets to exist and listen, failing at once if the daemon exits first; never leaves a watcher behind. */
export async function listening<T>(socket: string | string[], exited: Promise<T>, onExit: (how: T) => Error, budgetMs: number, what: string, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController();
  try {
    await withDeadline(
      Promise.race([
        Promise.all((Array.isArray(socket) ? socket : [socket]).map((s) => socketAppears(s, stop.signal).then(() => listensOn(s, budgetMs, stop.signal)))),
        exited.then((how) => Promise.reject(onExit(how))),
      ]),
      budgetMs,
      what,
      signal,
    );
  } finally {
    stop.abort();
  }
}

export interface DaemonOptions {
  /** Sockets the daemon creates; it is ready once all exist. They are removed when it stops. */
  sockets: string[];
  /** Names it in errors: "swtpm", "virtiofsd". */
  what: string;
  stage: Stage;
  budgetMs?: number;
  signal?: AbortSignal;
}

/** A started daemon. A plain object on purpose: execa's child is a thenable, and an async
 *  function that returned it would wait for the daemon to exit. */
export interface Daemon {
  readonly pid: number | undefined;
  /** SIGTERM to its group, SIGKILL after 5 s; removes its sockets. Idempotent. */
  stop(): Promise<void>;
  /** Lets it outlive us (a kept VM's): closes our pipes to it; stop() no longer stops it. */
  release(): void;
}

/** Starts `argv` and resolves once it listens; if it exits, times out or is cancelled first, it is stopped and this throws. */
export async function startDaemon(argv: readonly string[], o: DaemonOptions): Promise<Daemon> {
  for (const s of o.sockets) rmSync(s, { force: true });
  const child = spawn(argv, { stage: o.stage });
  let stderr = '';
  // Only its last lines are ever shown: keep the last 64 KiB.
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-65_536)));
  const exited = child.then(() => undefined);
  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    pid: child.pid,
    release: () => {
      stopping = Promise.resolve();
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    },
    stop: () =>
      (stopping ??= killGroup(child, exited, 5000).then(() => {
        for (const s of o.sockets) rmSync(s, { force: true });
      })),
  };
  const budgetMs = o.budgetMs ?? 10_000;
  try {
    await listening(o.sockets, exited, () => new InfraError(o.stage, `${o.what} exited before listening: ${stderr.trim().split('\n').slice(-2).join(' ') || 'no message'}`), budgetMs, `${o.what} socket`, o.signal);
  } catch (e) {
    await daemon.stop();
    if (o.signal?.aborted) throw e;
    // Where the kernel refused it (AppArmor), its denial says why better than the daemon can.
    const denied = denialClause(await kernelDenials(argv[0]!, dirname(o.sockets[0] ?? '/')));
    if (e instanceof InfraError) throw denied ? new InfraError(o.stage, `${e.message.replace(/^\[\w+\] /, '')}${denied}`, { cause: e, ...(e.budgetMs ? { budgetMs: e.budgetMs } : {}) }) : e;
    throw new InfraError(o.stage, `${o.what} did not start: ${(e as Error).message}${denied}`, { cause: e, budgetMs });
  }
  return daemon;
}
