// A minimal QMP client: enough to ask QEMU to power down or quit and to hear its events.
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class Qmp extends EventEmitter {
  private buf = '';
  private queue: Pending[] = [];
  private constructor(private sock: Socket) {
    super();
    sock.on('data', (d) => this.onData(d.toString('utf8')));
    sock.on('close', () => {
      for (const p of this.queue.splice(0)) p.reject(new Error('QMP connection closed'));
      this.emit('close');
    });
    sock.on('error', () => undefined);
  }

  static async connect(path: string): Promise<Qmp> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const qmp = new Qmp(sock);
    await qmp.greeting();
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  private greeting(): Promise<void> {
    return new Promise((resolve) => this.once('greeting', resolve));
  }

  private onData(text: string): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ('QMP' in msg) this.emit('greeting');
      else if ('event' in msg) this.emit('event', msg.event, msg.data);
      else if ('return' in msg) this.queue.shift()?.resolve(msg.return);
      else if ('error' in msg) this.queue.shift()?.reject(new Error(`QMP: ${JSON.stringify(msg.error)}`));
    }
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
