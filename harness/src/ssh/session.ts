// One authenticated SSH connection to the guest. The host key is pinned: the first
// connect of a run records it, every later connect (after a reboot too) must match.
import { createWriteStream, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import { AssertionFailure, InfraError } from '../errors.js';
import { withDeadline } from '../util/deadline.js';
import type { ExecResult } from '../util/exec.js';
import { fingerprint, knownHostsKey } from './keys.js';


export interface ConnectOptions {
  port: number;
  privateKeyPath: string;
  /** Pinned host key fingerprint; undefined on the first connect of a run. */
  hostKey?: string;
  timeoutMs: number;
  /** Aborting ends a connect in progress (the wait it belonged to is over). */
  signal?: AbortSignal;
  /** A connection already open to the guest's sshd (openSshSocket): the handshake runs on it. */
  sock?: Socket;
}

/** Most bytes kept of a guest command's stdout, and of its stderr: the guest decides how much it writes. */
export const MAX_EXEC_OUTPUT = 32 * 1024 * 1024;

/** Collects a stream's bytes up to `max`; past it, the rest is read and dropped, and the text says where it was cut. */
export class BoundedOutput {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  constructor(private readonly what: string, private readonly max: number) {}
  add(d: Buffer): void {
    const room = this.max - this.size;
    if (room > 0) {
      const keep = d.length <= room ? d : d.subarray(0, room);
      this.chunks.push(keep);
      this.size += keep.length;
    }
    this.dropped += Math.max(0, d.length - Math.max(0, room));
  }
  get truncated(): boolean {
    return this.dropped > 0;
  }
  /** Decoded once at the end, so a character split across chunks stays whole. */
  text(): string {
    const body = Buffer.concat(this.chunks, this.size).toString('utf8');
    return this.dropped ? `${body}\n[bootc-harness: ${this.what} cut after ${this.max} bytes; ${this.dropped} more dropped]\n` : body;
  }
}

export class HostKeyMismatch extends AssertionFailure {
  constructor(expected: string, got: string) {
    super('session', `guest host key changed: expected ${expected}, got ${got}`);
  }
}

export class Session {
  private closed = false;
  /** `hostKey` is the fingerprint; `hostKeyLine` the key itself as known_hosts writes it ("TYPE BASE64"). */
  private constructor(private client: ssh2.Client, readonly hostKey: string, readonly hostKeyLine: string) {
    client.on('error', () => undefined);
    client.on('close', () => (this.closed = true));
  }

  static connect(opts: ConnectOptions): Promise<Session> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      if (opts.signal?.aborted) return reject(opts.signal.reason);
      const onAbort = () => {
        client.end();
        reject(opts.signal?.reason);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      client.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
      let seenKey: string | undefined;
      let seenLine = '';
      let mismatch: HostKeyMismatch | undefined;
      client.once('ready', () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(new Session(client, seenKey!, seenLine));
      });
      // `on`, not `once`: ssh2 can emit several errors for one failed handshake.
      client.on('error', (err) => {
        client.end();
        reject(mismatch ?? err);
      });
      client.connect({
        host: '127.0.0.1',
        port: opts.port,
        username: 'root',
        privateKey: readFileSync(opts.privateKeyPath),
        ...(opts.sock ? { sock: opts.sock } : {}),
        readyTimeout: opts.timeoutMs,
        keepaliveInterval: 5000,
        keepaliveCountMax: 6,
        hostVerifier: (key: Buffer) => {
          seenKey = fingerprint(key);
          seenLine = knownHostsKey(key);
          if (opts.hostKey && opts.hostKey !== seenKey) {
            mismatch = new HostKeyMismatch(opts.hostKey, seenKey);
            return false;
          }
          return true;
        },
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Runs a shell command in the guest; never throws on a non-zero exit. Each of stdout and stderr
   *  keeps at most `maxOutputBytes` (MAX_EXEC_OUTPUT), the cut marked at its end. */
  exec(command: string, timeoutMs = 120_000, maxOutputBytes = MAX_EXEC_OUTPUT): Promise<ExecResult> {
    const run = new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new InfraError('session', `ssh exec failed: ${err.message}`, { cause: err }));
        const stdout = new BoundedOutput('stdout', maxOutputBytes);
        const stderr = new BoundedOutput('stderr', maxOutputBytes);
        let code: number | null = null;
        stream.on('data', (d: Buffer) => stdout.add(d));
        stream.stderr.on('data', (d: Buffer) => stderr.add(d));
        stream.on('exit', (c: number | null, signal?: string) => {
          code = c ?? (signal ? 128 : -1);
        });
        stream.on('close', () => resolve({ exitCode: code ?? -1, stdout: stdout.text(), stderr: stderr.text() }));
      });
    });
    return withDeadline(run, timeoutMs, `guest command "${command.slice(0, 60)}"`).catch((e) => {
      throw e instanceof InfraError ? e : new InfraError('session', (e as Error).message, { cause: e, budgetMs: timeoutMs });
    });
  }

  /**
   * Runs a guest command and streams its stdout, as bytes, into a new host file (mode 0600);
   * more than `maxBytes` ends the command and rejects: the guest decides how much it sends.
   */
  execToFile(command: string, hostPath: string, maxBytes: number, timeoutMs = 120_000): Promise<{ exitCode: number; bytes: number; stderr: string }> {
    const run = new Promise<{ exitCode: number; bytes: number; stderr: string }>((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new InfraError('session', `ssh exec failed: ${err.message}`, { cause: err }));
        const out = createWriteStream(hostPath, { flags: 'wx', mode: 0o600 });
        let bytes = 0;
        let stderr = '';
        let code: number | null = null;
        let failed: Error | undefined;
        out.on('error', (e) => {
          failed ??= e;
          stream.close();
        });
        stream.on('data', (d: Buffer) => {
          bytes += d.length;
          if (bytes > maxBytes) {
            failed ??= new AssertionFailure('session', `guest command "${command.slice(0, 60)}" sent more than ${maxBytes} bytes`);
            stream.close();
            return;
          }
          out.write(d);
        });
        stream.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 64 * 1024) stderr += d.toString('utf8');
        });
        stream.on('exit', (c: number | null, signal?: string) => {
          code = c ?? (signal ? 128 : -1);
        });
        stream.on('close', () => out.end(() => (failed ? reject(failed) : resolve({ exitCode: code ?? -1, bytes, stderr }))));
      });
    });
    return withDeadline(run, timeoutMs, `guest command "${command.slice(0, 60)}"`).catch((e) => {
      throw e instanceof InfraError || e instanceof AssertionFailure ? e : new InfraError('session', (e as Error).message, { cause: e, budgetMs: timeoutMs });
    });
  }

  close(): void {
    if (!this.closed) this.client.end();
    this.closed = true;
  }
}
