// Vm.start connects to QEMU's monitor once, after listening() saw the socket listen. A socket
// file an earlier QEMU of the same run left (a boot attempt that failed and was killed, before
// retryInfraOnce's second one) must not pass for the new QEMU's: it is removed first, and a
// disposed VM leaves no socket file behind. (CI: the second boot attempt failed at once with a
// refused monitor connect.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import getPort from 'get-port';
import { firmware } from '../src/run/disk-stage.js';
import { Vm } from '../src/vm/vm.js';
import { unixSocketState } from '../src/vm/unix-listen.js';

const haveQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
const fw = haveQemu ? firmware() : undefined;
const skip = (!haveQemu || !fw?.code || !fw.varsTemplate) && 'no qemu-system-x86_64 or OVMF (just setup)';

t.test('a stale monitor socket file from an earlier QEMU does not pass for the new one', { skip }, async (t) => {
  const dir = mkdtempSync('/var/tmp/bh-vm-start-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'qmp.sock');
  // What a QEMU killed with SIGKILL leaves: a socket file nobody is bound to (perl: Essential in Debian).
  spawnSync('perl', ['-e', 'use Socket; socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_un($ARGV[0])) or die;', sock]);
  t.ok(lstatSync(sock).isSocket(), 'the stale socket file is there before the start');
  t.equal(unixSocketState(readFileSync('/proc/net/unix', 'utf8'), sock), 'unlisted', 'and nothing is bound to it');
  const disk = join(dir, 'disk.raw');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const vm = await Vm.start({
    dir,
    accel: 'tcg',
    cpus: 1,
    memoryMiB: 256,
    ovmfCode: fw!.code,
    ovmfVarsTemplate: fw!.varsTemplate,
    disk: { path: disk, format: 'raw' },
    sshPort: await getPort({ host: '127.0.0.1' }),
    consoleLog: join(dir, 'console.log'),
  });
  let disposed = false;
  t.teardown(() => (disposed ? undefined : vm.dispose()));
  t.equal(await vm.status(), 'running', "the new QEMU's monitor answers");
  await vm.dispose();
  disposed = true;
  t.notOk(existsSync(sock), 'a disposed VM leaves no monitor socket file');
});
