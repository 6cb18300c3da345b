// passt for a guest whose profile opts into outbound NAT (vm.network "outbound"), on a second
// NIC: the guest's connections go out as the host's, but no address leads to the host's
// loopback (--no-map-gw). Nothing comes in through it (sshd stays on the isolated NIC).
// passt drops to nobody before it binds its socket, so the socket lives in a directory of
// nobody's own, not in the run's root-only work dir.
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOBODY } from '../util/sandbox.js';
import { startDaemon, type Daemon } from './daemon.js';
import { passtArgs } from './qemu-args.js';

const PREFIX = 'bh-passt-';

/** The socket directories of a run's passt (a kept run's outlive its process). */
export function passtDirs(runId: string): string[] {
  return readdirSync(tmpdir())
    .filter((n) => n.startsWith(`${PREFIX}${runId}-`))
    .map((n) => join(tmpdir(), n));
}

export class Passt {
  private constructor(readonly socket: string, private dir: string, private daemon: Daemon) {}

  /** `runId` names its directory, so `stop RUN` of a kept run finds it (passtDirs). */
  static async start(runId: string, signal?: AbortSignal): Promise<Passt> {
    const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${runId}-`));
    chownSync(dir, NOBODY, NOBODY);
    const socket = join(dir, 'passt.sock');
    try {
      const daemon = await startDaemon(passtArgs({ socket }), { sockets: [socket], what: 'passt', stage: 'vm', ...(signal ? { signal } : {}) });
      return new Passt(socket, dir, daemon);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  get pid(): number | undefined {
    return this.daemon.pid;
  }

  /** Lets it outlive us with its VM (--keep); it ends when QEMU closes its socket (-1). */
  release(): void {
    this.daemon.release();
  }

  async dispose(): Promise<void> {
    await this.daemon.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
