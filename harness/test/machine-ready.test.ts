// Readiness over SSH against real sockets: a connection that user-mode networking accepts
// while the guest's network is still down hangs with no identification; the wait must drop
// it and try again, not sit out the handshake's own timeout after sshd has come up. ssh2's
// Server stands in for the guest's sshd (key auth, one exec), on the same port.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { Machine } from '../src/machine.js';

/** ssh2's Server as the guest's sshd: key auth, one exec answering with the boot id. */
function fakeSshd(dir: string, bootId: string): InstanceType<typeof ssh2.Server> {
  const sshd = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'host'))] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('session', (accept) =>
      accept().on('exec', (acc) => {
        const ch = acc();
        ch.write(`${bootId}\n`);
        ch.exit(0);
        ch.end();
      }),
    );
    client.on('error', () => undefined);
  });
  return sshd;
}

t.test('a hung connection before sshd is up does not hold readiness past sshd', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-ready-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const k of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
  // Accepts and says nothing: user-mode networking with the guest's NIC not up yet.
  const held: Socket[] = [];
  const silent = createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  let sshd: InstanceType<typeof ssh2.Server> | undefined;
  t.teardown(() => {
    for (const s of held) s.destroy();
    silent.close();
    sshd?.close();
  });
  const up = new Promise<void>((resolve) =>
    setTimeout(() => {
      // Stops listening at once; the connections it holds stay open and silent, as user-mode
      // networking's do (close's callback would wait for them: not waited for).
      silent.close();
      sshd = fakeSshd(dir, '0b5e7a1c-boot');
      sshd.listen(port, '127.0.0.1', () => resolve());
    }, 2_000),
  );
  // 12 s: well past sshd coming up (2 s), well short of the handshake timeout (20 s) a hung first try would wait out.
  const machine = await Machine.waitReady({ port, privateKeyPath: join(dir, 'client'), bootMs: 12_000 });
  await up;
  t.equal(machine.bootId, '0b5e7a1c-boot', 'ready: connected, authenticated, the boot id read');
  t.ok(held.length >= 1, `the silent listener held ${held.length} connection(s) first`);
  machine.close();
});

t.test('the connection that heard the identification carries the handshake: the guest starts one sshd-session, not two', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-ready-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const k of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
  let connections = 0;
  const sshd = fakeSshd(dir, 'one-connection-boot');
  sshd.on('connection', () => connections++);
  await new Promise<void>((r) => sshd.listen(0, '127.0.0.1', r));
  t.teardown(() => sshd.close());
  const port = (sshd.address() as { port: number }).port;
  const machine = await Machine.waitReady({ port, privateKeyPath: join(dir, 'client'), bootMs: 10_000 });
  t.equal(machine.bootId, 'one-connection-boot', 'ready: the identification, the handshake, auth and a command, all on it');
  t.equal(connections, 1, 'one TCP connection in all');
  machine.close();
});

t.test('no attempt before the guest can answer: the first waits for notBefore (the NIC up)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-ready-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const k of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
  const sshd = fakeSshd(dir, 'gated-boot');
  const connectedAt: number[] = [];
  sshd.on('connection', () => connectedAt.push(Date.now()));
  await new Promise<void>((r) => sshd.listen(0, '127.0.0.1', r));
  t.teardown(() => sshd.close());
  const port = (sshd.address() as { port: number }).port;
  let nicUpAt = 0;
  const nicUp = () => new Promise<void>((resolve) => setTimeout(() => ((nicUpAt = Date.now()), resolve()), 800));
  const machine = await Machine.waitReady({ port, privateKeyPath: join(dir, 'client'), bootMs: 10_000, notBefore: nicUp });
  t.equal(machine.bootId, 'gated-boot');
  t.equal(connectedAt.length, 1, 'one connection');
  t.ok(nicUpAt > 0 && connectedAt[0]! >= nicUpAt, 'made only once the NIC was up');
  machine.close();
});
