// A software TPM 2.0 for one VM. Its state directory can outlive the VM so a
// second boot (or the installer VM) sees the same TPM.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { startDaemon, type Daemon } from './daemon.js';

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

/** The last lines of swtpm's log in `stateDir`, on one line; '' when there is none. */
export function swtpmLogTail(stateDir: string): string {
  try {
    return readFileSync(join(stateDir, 'swtpm.log'), 'utf8').trim().split('\n').filter(Boolean).slice(-2).join(' ').slice(0, 500);
  } catch {
    return '';
  }
}

export class Swtpm {
  private constructor(readonly socket: string, private daemon: Daemon) {}

  static async start(stateDir: string, socket: string, budgetMs = 10_000): Promise<Swtpm> {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    try {
      return new Swtpm(socket, await startDaemon(swtpmArgs(stateDir, socket), { sockets: [socket], what: 'swtpm', stage: 'vm', budgetMs }));
    } catch (e) {
      // swtpm writes why it failed to its log (--log file=), not to stderr.
      const log = swtpmLogTail(stateDir);
      if (!log || !(e instanceof InfraError)) throw e;
      throw new InfraError(e.stage, `${e.message.replace(/^\[\w+\] /, '')}; its log: ${log}`, { cause: e });
    }
  }

  get pid(): number | undefined {
    return this.daemon.pid;
  }

  /** Lets it outlive us with the VM it serves (--keep). */
  release(): void {
    this.daemon.release();
  }

  dispose(): Promise<void> {
    return this.daemon.stop();
  }
}
