// startDaemon: ready once its socket exists; a daemon that exits first is named with its last words.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../src/vm/daemon.js';
import { swtpmArgs } from '../src/vm/swtpm.js';
import { running } from './helpers/running.js';

t.test('startDaemon: ready once its socket exists; stop ends it and removes the socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'tpm.sock');
  mkdirSync(join(dir, 'state'));
  const d = await startDaemon(swtpmArgs(join(dir, 'state'), socket), { sockets: [socket], what: 'swtpm', stage: 'vm' });
  t.ok(existsSync(socket), 'listening');
  t.ok(d.pid !== undefined && running(d.pid), 'running');
  await Promise.all([d.stop(), d.stop()]);
  t.notOk(running(d.pid!), 'stopped');
  t.notOk(existsSync(socket), 'socket removed');
});

t.test('startDaemon: a daemon that exits first is named with its last words', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(
    startDaemon(['sh', '-c', 'echo "no such shared dir" >&2; exit 1'], { sockets: [join(dir, 'x.sock')], what: 'virtiofsd', stage: 'disk' }),
    /virtiofsd exited before listening: no such shared dir/,
  );
});
