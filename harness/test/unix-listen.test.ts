// A daemon is ready once its socket listens, not merely once the file exists: between
// bind(2) and listen(2) a client (QEMU) is refused. Told from the kernel's table, no trial connect.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../src/vm/daemon.js';
import { unixSocketState } from '../src/vm/unix-listen.js';

// proc(5)'s columns; 00010000 is __SO_ACCEPTCON (listening), St 01 unconnected.
const table = [
  'Num       RefCount Protocol Flags    Type St Inode Path',
  '0000000000000000: 00000002 00000000 00010000 0001 01 20001 /run/a.sock',
  '0000000000000000: 00000002 00000000 00000000 0001 01 20002 /run/b.sock',
  '0000000000000000: 00000003 00000000 00000000 0001 03 20003',
  '0000000000000000: 00000002 00000000 00010000 0001 01 20004 /run/with space.sock',
  '0000000000000000: 00000002 00000000 00010000 0001 01 20005 @abstract',
].join('\n');

t.test('unixSocketState: listening, bound only, or not in this namespace', async (t) => {
  t.equal(unixSocketState(table, '/run/a.sock'), 'listening');
  t.equal(unixSocketState(table, '/run/b.sock'), 'bound', 'bound, listen(2) not yet called');
  t.equal(unixSocketState(table, '/run/with space.sock'), 'listening', 'a path with a space is the rest of the line');
  t.equal(unixSocketState(table, '/run/c.sock'), 'unlisted', 'bound in another network namespace, or not at all');
  t.equal(unixSocketState(table, '/run/a'), 'unlisted', 'a prefix is not the path');
});

t.test('startDaemon waits out the gap between bind and listen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-listen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'd.sock');
  const marker = join(dir, 'listening');
  // A daemon that stays bound-but-not-listening for a second (as one preempted there would).
  // perl: Debian's perl-base is Essential, and Socket is in it.
  const script = `use Socket; socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_un($ARGV[0])) or die; sleep 1;
open(my $m, '>', $ARGV[1]) or die; close $m; listen($s, 1) or die; while (accept(my $c, $s)) { close $c }`;
  const d = await startDaemon(['perl', '-e', script, socket, marker], { sockets: [socket], what: 'test daemon', stage: 'vm' });
  t.teardown(() => d.stop());
  t.ok(existsSync(marker), 'ready only after listen(2)');
  const connected = await new Promise<boolean>((resolve) => {
    const c = connect(socket);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
  t.ok(connected, 'a client connecting the moment it is ready is accepted');
});
