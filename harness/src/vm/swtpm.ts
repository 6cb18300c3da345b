// A software TPM 2.0 for one VM. Its state directory can outlive the VM so a
// second boot (or the installer VM) sees the same TPM.
import { existsSync, mkdirSync, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InfraError } from '../errors.js';
import { spawn, type Child } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { killGroup } from './process.js';

export function swtpmArgs(stateDir: string, socket: string): string[] {
  return [
    'swtpm', 'socket', '--tpm2',
    '--tpmstate', `dir=${stateDir}`,
    '--ctrl', `type=unixio,path=${socket}`,
    '--log', `file=${join(stateDir, 'swtpm.log')},level=1`,
    // Exit when QEMU disconnects, so a killed QEMU never strands a swtpm.
    '--terminate',
  ];
}

export class Swtpm {
  private disposed = false;
  private constructor(readonly socket: string, private child: Child, private exited: Promise<unknown>) {}

  static async start(stateDir: string, socket: string, budgetMs = 10_000): Promise<Swtpm> {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const child = spawn(swtpmArgs(stateDir, socket), { stage: 'vm' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = child.then(() => undefined);
    const tpm = new Swtpm(socket, child, exited);
    try {
      await listening(socket, exited, () => new InfraError('vm', `swtpm exited before listening: ${stderr.trim() || 'no message'}`), budgetMs, 'swtpm socket');
    } catch (e) {
      await tpm.dispose();
      throw e instanceof InfraError ? e : new InfraError('vm', `swtpm did not start: ${(e as Error).message}`, { cause: e, budgetMs });
    }
    return tpm;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await killGroup(this.child, this.exited, 5000);
  }
}

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

/** Waits for a daemon's socket, failing at once if the daemon exits first; never leaves a watcher behind. */
export async function listening<T>(socket: string | string[], exited: Promise<T>, onExit: (how: T) => Error, budgetMs: number, what: string, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController();
  try {
    await withDeadline(
      Promise.race([
        Promise.all((Array.isArray(socket) ? socket : [socket]).map((s) => socketAppears(s, stop.signal))),
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
