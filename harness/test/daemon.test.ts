// startDaemon: ready once its socket exists; a daemon that exits first is named with its last words.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../src/vm/daemon.js';
import { swtpmArgs } from '../src/vm/swtpm.js';
import { running } from './helpers/running.js';
import { isAlive, processId } from '../src/util/process-id.js';

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

t.test('stop returns only once no process of the daemon\'s group is left, what it started included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'tpm.sock');
  mkdirSync(join(dir, 'state'));
  // A helper the daemon started in its group (as virtiofsd's sandbox child is): the leader going is not the end.
  const pidFile = join(dir, 'helper.pid');
  const d = await startDaemon(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; exec ${swtpmArgs(join(dir, 'state'), socket).join(' ')}`], { sockets: [socket], what: 'swtpm', stage: 'vm' });
  const helper = processId(Number(readFileSync(pidFile, 'utf8')))!;
  t.ok(isAlive(helper), 'the helper runs');
  await d.stop();
  t.notOk(isAlive(helper), 'the helper is gone (reaped, not a zombie) the moment stop returns');
  t.notOk(running(d.pid!), 'the daemon too');
});
