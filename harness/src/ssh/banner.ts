// Is anything speaking SSH on the port? A raw TCP read of the server's
// identification line, independent of key exchange and auth (which can take
// many seconds on a loaded TCG guest).
import { connect } from 'node:net';

export type BannerResult = { banner: string } | { closed: string };

export function readSshBanner(port: number, timeoutMs: number): Promise<BannerResult> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (r: BannerResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ closed: `no SSH identification within ${timeoutMs} ms` }), timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const line = buf.split('\n')[0]!;
      if (buf.includes('\n') || buf.length > 255) done(line.startsWith('SSH-') ? { banner: line.trim() } : { closed: `not SSH: ${JSON.stringify(line.slice(0, 40))}` });
    });
    // User-mode networking accepts on the host side and closes when nothing listens in the guest.
    sock.on('end', () => done({ closed: 'connection closed without an SSH identification (nothing listening on port 22)' }));
    sock.on('error', (e) => done({ closed: e.message }));
  });
}
