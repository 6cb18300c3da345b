// passt, as a profile's outbound network starts it (no guest here: what the host side promises):
// it runs as nobody, binds its socket in a directory of its own and sshd's forward on the host's
// loopback only, and stopping it leaves neither process nor directory.
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import getPort from 'get-port';
import { Passt } from '../src/vm/passt.js';
import { which } from '../src/util/tools.js';
import { running } from './helpers/running.js';

t.test('passt starts as nobody with its socket and the loopback forward, and stops clean', { skip: which('passt') ? false : 'no passt on this host (apt-get install passt)' }, async (t) => {
  const port = await getPort({ host: '127.0.0.1' });
  const p = await Passt.start(port);
  let disposed = false;
  t.teardown(() => (disposed ? undefined : p.dispose()));
  t.ok(statSync(p.socket).isSocket(), 'its socket is there');
  t.equal(statSync(dirname(p.socket)).mode & 0o777, 0o700, "in a directory only it (nobody) can enter");
  const pid = p.pid!;
  t.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+65534\s/m, 'runs as nobody');
  const tcp = readFileSync('/proc/net/tcp', 'utf8');
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  t.match(tcp, new RegExp(`^\\s*\\d+: 0100007F:${hex} 00000000:0000 0A `, 'm'), `listens on 127.0.0.1:${port} (the ssh forward)`);
  t.notMatch(tcp, new RegExp(`^\\s*\\d+: 00000000:${hex} `, 'm'), 'not on every address');
  await new Promise<void>((resolve, reject) => connect(port, '127.0.0.1').once('connect', function (this: import('node:net').Socket) { this.destroy(); resolve(); }).once('error', reject));
  await p.dispose();
  disposed = true;
  t.notOk(running(pid), 'stopped');
  t.notOk(existsSync(dirname(p.socket)), 'its directory removed');
});
