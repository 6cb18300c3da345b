// A guest command's output is the guest's to choose: the session keeps a bounded amount of each
// stream, marks the cut, still reports the command's own exit status, and keeps a character
// split across chunks whole. ssh2's Server stands in for the guest's sshd.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { BoundedOutput, Session } from '../src/ssh/session.js';

t.test('BoundedOutput: keeps up to its limit, drops the rest, says so; decodes split characters whole', async (t) => {
  const b = new BoundedOutput('stdout', 10);
  b.add(Buffer.from('12345'));
  b.add(Buffer.from('67890abc'));
  b.add(Buffer.from('def'));
  t.ok(b.truncated);
  t.equal(b.text(), '1234567890\n[bootc-harness: stdout cut after 10 bytes; 6 more dropped]\n');
  const e = Buffer.from('é€');
  const u = new BoundedOutput('stdout', 100);
  for (const byte of e) u.add(Buffer.from([byte]));
  t.equal(u.text(), 'é€', 'one byte at a time, still the characters');
  t.notOk(u.truncated);
});

t.test('a guest command that floods stdout: bounded, marked, its exit status kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-session-out-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const k of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
  const chunk = Buffer.alloc(64 * 1024, 'y');
  const total = 8 * 1024 * 1024;
  const sshd = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'host'))] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('session', (accept) =>
      accept().on('exec', (acc) => {
        const ch = acc();
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!ch.write(chunk)) return void ch.once('drain', pump);
          }
          ch.stderr.write('done\n');
          ch.exit(3);
          ch.end();
        };
        pump();
      }),
    );
    client.on('error', () => undefined);
  });
  await new Promise<void>((r) => sshd.listen(0, '127.0.0.1', r));
  t.teardown(() => sshd.close());
  const port = (sshd.address() as { port: number }).port;
  const s = await Session.connect({ port, privateKeyPath: join(dir, 'client'), timeoutMs: 20_000 });
  t.teardown(() => s.close());
  const r = await s.exec('yes', 60_000, 1024 * 1024);
  t.equal(r.exitCode, 3, "the command's own status, though its output was cut");
  t.ok(r.stdout.length < 1024 * 1024 + 200, `stdout kept to the limit (${r.stdout.length} characters)`);
  t.match(r.stdout, /\n\[bootc-harness: stdout cut after 1048576 bytes; 7340032 more dropped\]\n$/, 'the cut is marked with what was dropped');
  t.notMatch(r.stderr, /cut after/, 'stderr has its own limit, not reached here');
});
