// Is anything speaking SSH on the port? A raw TCP read of the server's identification
// line, independent of key exchange and auth (which can take many seconds on a loaded TCG
// guest). The connection that heard it can be kept for the handshake: each connection
// costs the guest an sshd-session process, and under TCG starting one costs it a second.
import { connect, type Socket } from 'node:net';

export type BannerResult = { banner: string } | { closed: string };

/** Connects and waits for the identification line; on success the socket is handed back
 *  paused, with the line still unread, for an SSH client to take over. */
export function openSshSocket(port: number, timeoutMs: number): Promise<{ banner: string; sock: Socket } | { closed: string }> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const fail = (closed: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ closed });
    };
    const timer = setTimeout(() => fail(`no SSH identification within ${timeoutMs} ms`), timeoutMs);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      if (!text.includes('\n') && buf.length <= 255) return;
      const line = text.split('\n')[0]!;
      if (!line.startsWith('SSH-')) return fail(`not SSH: ${JSON.stringify(line.slice(0, 40))}`);
      clearTimeout(timer);
      sock.pause();
      sock.off('data', onData).off('end', onEnd).off('error', onError);
      // Put back what was read: the client reads the identification itself.
      sock.unshift(buf);
      resolve({ banner: line.trim(), sock });
    };
    // User-mode networking accepts on the host side and closes when nothing listens in the guest.
    const onEnd = () => fail('connection closed without an SSH identification (nothing listening on port 22)');
    const onError = (e: Error) => fail(e.message);
    sock.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** The identification line alone; the connection is closed. */
export async function readSshBanner(port: number, timeoutMs: number): Promise<BannerResult> {
  const r = await openSshSocket(port, timeoutMs);
  if ('sock' in r) r.sock.destroy();
  return 'banner' in r ? { banner: r.banner } : r;
}
