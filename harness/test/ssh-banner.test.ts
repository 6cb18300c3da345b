// The "is sshd there" probe against real local sockets.
import t from 'tap';
import { createServer, type Server } from 'node:net';
import { readSshBanner } from '../src/ssh/banner.js';

function serve(onConnection: (sock: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(onConnection);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

t.test('an SSH identification line is a banner', async (t) => {
  const { server, port } = await serve((s) => s.write('SSH-2.0-OpenSSH_10.0p2 Debian-7\r\n'));
  t.teardown(() => server.close());
  t.same(await readSshBanner(port, 2000), { banner: 'SSH-2.0-OpenSSH_10.0p2 Debian-7' });
});

t.test('accepted then closed (user-mode networking, nothing listening in the guest)', async (t) => {
  const { server, port } = await serve((s) => s.end());
  t.teardown(() => server.close());
  const r = await readSshBanner(port, 2000);
  t.match(r, { closed: /nothing listening on port 22/ });
});

t.test('something else on the port is not SSH', async (t) => {
  const { server, port } = await serve((s) => s.write('HTTP/1.1 400 Bad Request\r\n'));
  t.teardown(() => server.close());
  t.match(await readSshBanner(port, 2000), { closed: /not SSH/ });
});

t.test('silence is reported with the budget', async (t) => {
  const open = new Set<import('node:net').Socket>();
  const { server, port } = await serve((s) => open.add(s));
  t.teardown(() => {
    for (const s of open) s.destroy();
    server.close();
  });
  t.match(await readSshBanner(port, 300), { closed: /no SSH identification within 300 ms/ });
});
