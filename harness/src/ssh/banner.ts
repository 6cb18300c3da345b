// Is anything speaking SSH on the port? A raw TCP read of the server's identification
// line, independent of key exchange and auth (which can take many seconds on a loaded TCG
// guest). The connection that heard it can be kept for the handshake: each connection
// costs the guest an sshd-session process, and under TCG starting one costs it a second.
import { connect, type Socket } from 'node:net';

/** `refused`: the server answered, but with OpenSSH's refusal instead of an identification. */
export type BannerResult = { banner: string } | { closed: string; refused?: true };

/**
 * What OpenSSH's sshd writes, instead of its identification, to a connection it drops: from a
 * source it penalises (PerSourcePenalties: repeated failed authentications, crashes, no auth
 * within the grace time) or beyond MaxStartups (openssh-portable sshd.c, drop_connection():
 * `const char msg[] = "Not allowed at this time\r\n";`).
 */
export const OPENSSH_NOT_ALLOWED = /^Not allowed at this time\r?$/;

export const NOT_ALLOWED_REASON =
  'the SSH server answered "Not allowed at this time" instead of an identification (OpenSSH drops connections from a source it penalises after repeated failed attempts, PerSourcePenalties, or beyond MaxStartups)';

/** Connects and waits for the identification line; on success the socket is handed back
 *  paused, with the line still unread, for an SSH client to take over. */
export function openSshSocket(port: number, timeoutMs: number): Promise<{ banner: string; sock: Socket } | { closed: string; refused?: true }> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const fail = (closed: string, refused?: true) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(refused ? { closed, refused } : { closed });
    };
    const timer = setTimeout(() => fail(`no SSH identification within ${timeoutMs} ms`), timeoutMs);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      if (!text.includes('\n') && buf.length <= 255) return;
      const line = text.split('\n')[0]!;
      if (OPENSSH_NOT_ALLOWED.test(line)) return fail(NOT_ALLOWED_REASON, true);
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
