// The guest API suites use, shaped after the NixOS test driver's machine object:
// exec() reports, succeed()/fail() assert, waitForUnit() fails early on "failed",
// reboot() waits for a new boot id and checks the pinned host key.
import { AssertionFailure } from './errors.js';
import { poll, withDeadline } from './util/deadline.js';
import { openSshSocket } from './ssh/banner.js';
import { isAuthRefusal, type SshRefusals } from './ssh/refusals.js';
import { Session, HostKeyMismatch } from './ssh/session.js';
import type { ExecResult } from './util/exec.js';

export interface MachineOptions {
  port: number;
  privateKeyPath: string;
  hostKey?: string;
  /** Budget for the guest to become reachable (boot or reboot). */
  bootMs: number;
  /** Settles (rejects) when waiting is pointless: QEMU exited, fatal console line. */
  race?: () => Promise<never>;
  /** The first attempt waits for this (the guest's NIC came up): before it an attempt can only
   *  hang, and user-mode networking keeps retrying a hung one's SYN after it was given up, which
   *  the guest answers once sshd listens, with an sshd-session started for nothing. */
  notBefore?: () => Promise<unknown>;
  /** Where refused authentications and dropped connections are noted, for the boot's silence watch. */
  refusals?: SshRefusals;
}

export type { ExecResult };

export class Machine {
  private constructor(private session: Session, private opts: MachineOptions, private currentBootId: string) {}

  /** The boot id of the boot this machine is talking to (changes with reboot()). */
  get bootId(): string {
    return this.currentBootId;
  }

  get hostKey(): string {
    return this.session.hostKey;
  }

  /** The host key as a known_hosts line's "TYPE BASE64", for a plain `ssh` to the same guest. */
  get hostKeyLine(): string {
    return this.session.hostKeyLine;
  }

  /**
   * Ready = an authenticated command round trip, raced against the VM failing and the
   * budget. Whichever settles first stops the others: no attempt outlives the wait.
   */
  static async waitReady(opts: MachineOptions, what = 'SSH ready', notBootId?: string): Promise<Machine> {
    const stop = new AbortController();
    const attempt = async () => {
      let session: Session | undefined;
      // An identification line first, within seconds: a connection made while the guest's
      // network is still down hangs in user-mode networking until the handshake's own
      // timeout (20 s), long after sshd has come up. The handshake then runs on the same
      // connection: a second one would make the guest start a second sshd-session.
      const hello = await openSshSocket(opts.port, 3_000);
      if (!('banner' in hello)) {
        if (hello.refused) opts.refusals?.noteNotAllowed();
        return { done: false as const, diagnostic: hello.closed };
      }
      try {
        session = await Session.connect({ port: opts.port, privateKeyPath: opts.privateKeyPath, hostKey: opts.hostKey, timeoutMs: 20_000, signal: stop.signal, sock: hello.sock });
        const r = await session.exec('cat /proc/sys/kernel/random/boot_id', 20_000);
        if (r.exitCode !== 0) {
          session.close();
          return { done: false as const, diagnostic: `boot_id read exited ${r.exitCode}` };
        }
        const bootId = r.stdout.trim();
        // After a reboot request the old boot may answer for a while: not the boot we wait for.
        if (bootId === notBootId) {
          session.close();
          return { done: false as const, diagnostic: `still the old boot ${bootId}` };
        }
        return { done: true as const, value: { session, bootId } };
      } catch (e) {
        session?.close();
        hello.sock.destroy();
        if (e instanceof HostKeyMismatch || stop.signal.aborted) throw e;
        if (isAuthRefusal(e)) opts.refusals?.noteAuthRefused(e);
        return { done: false as const, diagnostic: (e as Error).message };
      }
    };
    try {
      // A refused connection costs the guest nothing; a late look costs the run up to the backoff.
      const started = Date.now();
      const ready = (opts.notBefore?.() ?? Promise.resolve()).then(() =>
        poll(attempt, { what, budgetMs: Math.max(1_000, opts.bootMs - (Date.now() - started)), initialDelayMs: 250, maxDelayMs: 250, signal: stop.signal }),
      );
      const { session, bootId } = await (opts.race ? Promise.race([ready, opts.race()]) : ready);
      return new Machine(session, { ...opts, hostKey: session.hostKey }, bootId);
    } finally {
      stop.abort(new Error(`${what}: stopped`));
    }
  }

  exec(command: string, timeoutMs?: number): Promise<ExecResult> {
    return this.session.exec(command, timeoutMs);
  }

  /**
   * Copies a guest file to a new host file, byte for byte, refusing more than `maxBytes`:
   * for measuring it on the host (fsverityDigest), where the guest cannot answer for itself.
   */
  async copyFile(guestPath: string, hostPath: string, maxBytes: number, timeoutMs = 300_000): Promise<number> {
    const q = `'${guestPath.replace(/'/g, `'\\''`)}'`;
    // A regular file only: a FIFO or a device there would send whatever it likes.
    const r = await this.session.execToFile(`test -f ${q} && exec cat -- ${q}`, hostPath, maxBytes, timeoutMs);
    if (r.exitCode !== 0) throw new AssertionFailure('suites', `cannot read ${guestPath} in the guest (exit ${r.exitCode})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    return r.bytes;
  }

  /** Runs a command that must succeed; returns its stdout. */
  async succeed(command: string, timeoutMs?: number): Promise<string> {
    const r = await this.exec(command, timeoutMs);
    if (r.exitCode !== 0) {
      throw new AssertionFailure('suites', `command failed (exit ${r.exitCode}): ${command}${r.stderr.trim() ? `\n${r.stderr.trim()}` : ''}`);
    }
    return r.stdout;
  }

  /** Runs a command that must fail; returns its stderr. */
  async fail(command: string, timeoutMs?: number): Promise<string> {
    const r = await this.exec(command, timeoutMs);
    if (r.exitCode === 0) throw new AssertionFailure('suites', `command unexpectedly succeeded: ${command}`);
    return r.stderr;
  }

  /** Waits until a unit is active; fails as soon as it is "failed" (no point waiting longer). */
  async waitForUnit(unit: string, budgetMs = 60_000): Promise<void> {
    await poll(
      async () => {
        const r = await this.exec(`systemctl show -p ActiveState -p SubState -p Result -- '${unit.replace(/'/g, '')}'`, 20_000);
        // Key=value: systemctl prints properties in its own order, not the order asked for.
        const p = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        const [active, sub, result] = [p.ActiveState, p.SubState, p.Result];
        if (active === 'active') return { done: true, value: undefined };
        if (active === 'failed') throw new AssertionFailure('suites', `unit ${unit} failed (${sub}, result ${result})`);
        return { done: false, diagnostic: `${unit} is ${active}/${sub}` };
      },
      { what: `unit ${unit} active`, budgetMs },
    );
  }

  /**
   * Reboots and waits for a new boot id; the host key must not change. The same Machine
   * then talks to the new boot, so fixtures holding it stay valid.
   */
  async reboot(): Promise<this> {
    const before = this.bootId;
    // The connection drops as the guest goes down: the exec's outcome does not matter.
    await withDeadline(this.session.exec('systemctl reboot', 10_000), 15_000, 'reboot request').catch(() => undefined);
    this.session.close();
    const next = await Machine.waitReady({ ...this.opts, hostKey: this.hostKey }, 'SSH ready after reboot (a new boot id)', before);
    this.session = next.session;
    this.currentBootId = next.bootId;
    return this;
  }

  /**
   * This machine's session, still talking to the guest: a test may have rebooted it through
   * a Machine of its own (the suites run in another process), which leaves this session
   * talking to a boot that is gone. Then connect again, to whatever boot now answers.
   */
  async reconnect(budgetMs: number): Promise<this> {
    const alive = await this.session.exec('cat /proc/sys/kernel/random/boot_id', 5_000).catch(() => undefined);
    if (alive?.exitCode === 0) return this;
    this.session.close();
    const next = await Machine.waitReady({ ...this.opts, hostKey: this.hostKey, bootMs: budgetMs }, 'SSH ready again (a test rebooted the guest)');
    this.session = next.session;
    this.currentBootId = next.bootId;
    return this;
  }

  close(): void {
    this.session.close();
  }
}
