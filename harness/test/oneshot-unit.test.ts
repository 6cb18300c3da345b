import t from 'tap';
import { UsageError } from '../src/errors.js';
import { installerServiceUnit, parseInstallResult, systemdExecLine } from '../src/vm/oneshot-unit.js';
import { systemdSplit } from './helpers/argv.js';

t.test('installer service unit: any step (the TPM2 enrollment) runs the same way', async (t) => {
  const unit = installerServiceUnit({
    description: 'seal the key',
    exec: ['/usr/bin/systemd-cryptenroll', '--tpm2-device=auto', '/dev/disk/by-id/virtio-bh-target-part2'],
    waitFor: ['/dev/disk/by-id/virtio-bh-target-part2', '/dev/tpmrm0'],
  });
  const lines = unit.split('\n');
  const value = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  t.same(value('Description'), ['seal the key']);
  t.same(value('Environment'), [], 'no environment unless given');
  t.same(value('ExecStartPre').map(systemdSplit), [['/usr/bin/udevadm', 'wait', '--timeout=120', '/dev/disk/by-id/virtio-bh-target-part2', '/dev/tpmrm0']], 'only the device wait');
  t.same(value('ExecStart').map(systemdSplit), [['/usr/bin/systemd-cryptenroll', '--tpm2-device=auto', '/dev/disk/by-id/virtio-bh-target-part2']]);
  t.same(value('SuccessAction'), ['poweroff']);
  t.same(value('FailureAction'), ['poweroff']);
  t.equal(value('ExecStopPost').length, 1, 'the result line is printed either way');
  const noWait = installerServiceUnit({ description: 'x', exec: ['/usr/bin/true'], waitFor: [] });
  t.notMatch(noWait, /udevadm/, 'nothing to wait for: no udevadm line');
  t.throws(() => installerServiceUnit({ description: 'a\nExecStart=/bin/sh', exec: ['/usr/bin/true'], waitFor: [] }), UsageError, 'no unit injection through the description');
  t.throws(() => installerServiceUnit({ description: 'x', exec: ['true'], waitFor: [] }), UsageError, 'argv[0] is absolute');
  t.throws(() => installerServiceUnit({ description: 'x', exec: ['/usr/bin/true'], waitFor: [], deviceTimeoutSec: 0 }), UsageError);
});

t.test('systemd quoting: $, %, quotes, backslashes and spaces round-trip', async (t) => {
  const argv = ['/usr/bin/echo', 'plain', 'two words', '$HOME', '100%', 'say "hi"', 'back\\slash', "it's", ''];
  const line = systemdExecLine(argv);
  t.same(systemdSplit(line), argv);
  t.notMatch(line, /(^|[^$])\$[A-Za-z{]/, 'no bare $VAR for systemd to expand');
  t.throws(() => systemdExecLine(['echo', 'x']), UsageError, 'argv[0] is absolute');
  t.throws(() => systemdExecLine(['/bin/echo', 'a\nb']), UsageError);
  t.throws(() => systemdExecLine(['/bin/echo', ';']), UsageError);
});

t.test('result line: success, failure, signal, never started, absent', async (t) => {
  const boot = '[    1.234] Linux version 6.12\r\n[  OK  ] Reached target multi-user.target\r\n';
  t.equal(parseInstallResult(boot), undefined, 'no line yet');
  t.same(parseInstallResult(`${boot}bootc-harness-install: exit=0 code=exited result=success\r\n`), {
    exitCode: 0, code: 'exited', status: '0', serviceResult: 'success',
  });
  t.same(parseInstallResult('sh[812]: bootc-harness-install: exit=1 code=exited result=exit-code\n'), {
    exitCode: 1, code: 'exited', status: '1', serviceResult: 'exit-code',
  }, 'found after a journald prefix');
  t.same(parseInstallResult('bootc-harness-install: exit=KILL code=killed result=signal\n'), {
    exitCode: -1, code: 'killed', status: 'KILL', serviceResult: 'signal',
  });
  t.same(parseInstallResult('bootc-harness-install: exit=none code=none result=exit-code\n'), {
    exitCode: -1, code: 'none', status: 'none', serviceResult: 'exit-code',
  }, 'a step before bootc failed');
  t.equal(
    parseInstallResult('bootc-harness-install: exit=1 code=exited result=exit-code\nbootc-harness-install: exit=0 code=exited result=success\n')?.exitCode,
    0,
    'the last line wins',
  );
  t.equal(parseInstallResult('bootc-harness-install: exit=${EXIT_STATUS:-none} code=${EXIT_CODE:-none}'), undefined, 'unexpanded text does not count');
  t.equal(parseInstallResult('bootc-harness-install: exit=0'), undefined, 'a partial line does not count');
  t.equal(parseInstallResult('bootc-harness-install: exit=0 code=exited result=succ'), undefined, 'nor one without its newline');
});
