// passt, as a profile's outbound network starts it (no guest here: what the host side promises):
// it runs as nobody, binds its socket in a directory of its own, listens on no TCP port of the
// host (nothing is forwarded in), and stopping it leaves neither process nor directory.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Passt, passtDirs } from '../src/vm/passt.js';
import { which } from '../src/util/tools.js';
import { running } from './helpers/running.js';

t.test('passt starts as nobody with its socket and no port of its own, and stops clean', { skip: which('passt') ? false : 'no passt on this host (apt-get install passt)' }, async (t) => {
  const p = await Passt.start('20261207-000000-passt-test-x1y2');
  t.same(passtDirs('20261207-000000-passt-test-x1y2'), [dirname(p.socket)], 'its directory is found by the run id (stop RUN removes it)');
  let disposed = false;
  t.teardown(() => (disposed ? undefined : p.dispose()));
  t.ok(statSync(p.socket).isSocket(), 'its socket is there');
  t.equal(statSync(dirname(p.socket)).mode & 0o777, 0o700, "in a directory only it (nobody) can enter");
  const pid = p.pid!;
  t.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+65534\s/m, 'runs as nobody');
  // Its listening TCP sockets, by inode, among every socket of the host.
  const inodes = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]; } catch { return undefined; } }).filter(Boolean));
  const listening = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1)).map((l) => l.trim().split(/\s+/)).filter((c) => c[3] === '0A' && inodes.has(c[9]));
  t.same(listening, [], 'no TCP port listened on: nothing comes in through it');
  await p.dispose();
  disposed = true;
  t.notOk(running(pid), 'stopped');
  t.notOk(existsSync(dirname(p.socket)), 'its directory removed');
  t.same(passtDirs('20261207-000000-passt-test-x1y2'), []);
});
