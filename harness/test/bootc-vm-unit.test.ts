import t, { type Test } from 'tap';
import { UsageError } from '../src/errors.js';
import {
  bootcInVmArgs,
  installerTargetDevice,
  installerUnit,
  installerUnitCredentialArgs,
  installerVmKargs,
  installerVmQemuArgs,
  type BootcInVmOptions,
  type InstallerQemuOptions,
} from '../src/install/bootc-vm-unit.js';
import { INSTALL_RESULT_PORT, installerServiceUnit, parseInstallResult, systemdExecLine } from '../src/vm/oneshot-unit.js';
import { systemdCredentialArgs } from '../src/vm/credentials.js';
import { virtiofsdArgs, virtiofsdHelpHas } from '../src/vm/virtiofsd.js';

const IMAGE = 'localhost/bootc-harness/snow:run-1';
const RUN = '/var/tmp/bootc-harness/run-1';
const SERIAL = 'bh-target';

const bootc = (over: Partial<BootcInVmOptions> = {}): BootcInVmOptions => ({
  imageRef: IMAGE,
  targetSerial: SERIAL,
  filesystem: 'ext4',
  kargs: [],
  composefsBackend: false,
  blockSetup: 'tpm2-luks',
  ...over,
});

const vm = (over: Partial<InstallerQemuOptions> = {}): InstallerQemuOptions => ({
  accel: 'kvm',
  cpus: 2,
  memoryMiB: 4096,
  kernel: `${RUN}/vmlinuz`,
  initrd: `${RUN}/initrd.img`,
  kargs: installerVmKargs(),
  rootfsSocket: `${RUN}/vfs-rootfs.sock`,
  storageSocket: `${RUN}/vfs-storage.sock`,
  targetDisk: { path: `${RUN}/disk.raw`, format: 'raw', serial: SERIAL },
  tpmSocket: `${RUN}/swtpm.sock`,
  ...over,
});

/** No element carries whitespace, except the one after `-append` (the kernel command line). */
function pure(t: Test, argv: readonly string[], what: string): void {
  const bad = argv.filter((a, i) => /\s/.test(a) && argv[i - 1] !== '-append');
  t.same(bad, [], `${what}: no element with whitespace`);
  t.notOk(argv.some((a) => a === ''), `${what}: no empty element`);
}

/** systemd's reading of a command line (systemd.service(5)): words split on whitespace,
 *  "…" with C escapes, '…' literal; then %% -> % and $$ -> $. Enough to check our quoting. */
function systemdSplit(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let w = '';
    while (i < line.length && line[i] !== ' ') {
      const c = line[i]!;
      if (c === '"') {
        i++;
        while (line[i] !== '"') {
          if (i >= line.length) throw new Error('unterminated "');
          if (line[i] === '\\') i++;
          w += line[i++];
        }
        i++;
      } else if (c === "'") {
        i++;
        while (line[i] !== "'") w += line[i++];
        i++;
      } else {
        if (c === '\\') i++;
        w += line[i++];
      }
    }
    words.push(w.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

// ---- virtiofsd ---------------------------------------------------------------------

t.test('virtiofsd: the image root read-write, host storage read-only', async (t) => {
  const root = virtiofsdArgs({ sharedDir: '/var/lib/containers/storage/overlay/abc/merged', socket: `${RUN}/vfs-rootfs.sock`, readOnly: false });
  t.same(root, [
    '/usr/libexec/virtiofsd',
    '--socket-path', `${RUN}/vfs-rootfs.sock`,
    '--shared-dir', '/var/lib/containers/storage/overlay/abc/merged',
    '--cache', 'auto',
    '--sandbox', 'namespace',
  ]);
  const storage = virtiofsdArgs({ sharedDir: '/var/lib/containers/storage', socket: `${RUN}/vfs-storage.sock`, readOnly: true, cache: 'never', sandbox: 'none', binary: '/usr/bin/virtiofsd' });
  t.same(storage, [
    '/usr/bin/virtiofsd',
    '--socket-path', `${RUN}/vfs-storage.sock`,
    '--shared-dir', '/var/lib/containers/storage',
    '--cache', 'never',
    '--sandbox', 'none',
    '--readonly',
  ]);
  pure(t, root, 'virtiofsd');
  t.throws(() => virtiofsdArgs({ sharedDir: 'rel/dir', socket: '/s', readOnly: false }), UsageError);
  t.throws(() => virtiofsdArgs({ sharedDir: '/d', socket: 's.sock', readOnly: false }), UsageError);
});

t.test('virtiofsd --help probe: --readonly only when listed', async (t) => {
  const v113 = [
    'Options:',
    '      --shared-dir <SHARED_DIR>  Shared directory path',
    '      --readonly                 Disable write access to the shared directory',
    '      --readdirplus              Enable readdirplus',
  ].join('\n');
  const v15 = ['Options:', '      --shared-dir <SHARED_DIR>', '      --readdirplus', '      --no-readdirplus'].join('\n');
  t.ok(virtiofsdHelpHas(v113, '--readonly'));
  t.notOk(virtiofsdHelpHas(v15, '--readonly'), 'a longer option with the same prefix does not count');
  t.notOk(virtiofsdHelpHas(v15, '--read'), 'no prefix match');
  t.ok(virtiofsdHelpHas(v15, '--no-readdirplus'));
  t.throws(() => virtiofsdHelpHas(v113, 'readonly'), UsageError);
});

// ---- bootc's command line -----------------------------------------------------------

t.test('bootc in the VM: tpm2-luks, ostree backend', async (t) => {
  const a = bootcInVmArgs(bootc());
  t.same(a, [
    'bootc', 'install', 'to-disk',
    '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'tpm2-luks',
    '--source-imgref', `containers-storage:${IMAGE}`,
    '--karg', 'console=ttyS0',
    '/dev/disk/by-id/virtio-bh-target',
  ]);
  t.notOk(a.includes('--via-loopback'), 'a real block device');
  pure(t, a, 'bootc');
});

t.test('bootc in the VM: tpm2-luks, composefs backend', async (t) => {
  const a = bootcInVmArgs(bootc({ composefsBackend: true, kargs: ['quiet'], targetImgref: 'quay.io/example/snow:latest', authorizedKeysPath: '/run/credentials/@system/keys' }));
  t.same(a, [
    'bootc', 'install', 'to-disk',
    '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'tpm2-luks',
    '--composefs-backend',
    '--source-imgref', `containers-storage:${IMAGE}`,
    '--target-imgref', 'quay.io/example/snow:latest',
    '--karg', 'console=ttyS0',
    '--karg', 'quiet',
    '/dev/disk/by-id/virtio-bh-target',
  ], 'composefs ignores --root-ssh-authorized-keys, so it is not passed');
  const ostree = bootcInVmArgs(bootc({ authorizedKeysPath: '/run/credentials/@system/keys', genericImage: false, blockSetup: undefined }));
  t.same(ostree, [
    'bootc', 'install', 'to-disk',
    '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'direct',
    '--source-imgref', `containers-storage:${IMAGE}`,
    '--karg', 'console=ttyS0',
    '--root-ssh-authorized-keys', '/run/credentials/@system/keys',
    '/dev/disk/by-id/virtio-bh-target',
  ]);
});

t.test('bootc in the VM: bad input', async (t) => {
  t.equal(installerTargetDevice('bh-target'), '/dev/disk/by-id/virtio-bh-target');
  t.throws(() => installerTargetDevice('a-serial-longer-than-20'), UsageError, 'virtio-blk serials are 20 bytes');
  t.throws(() => installerTargetDevice('bh target'), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ imageRef: '' })), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ imageRef: '--privileged' })), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ imageRef: `containers-storage:${IMAGE}` })), UsageError, 'the transport is added once');
  t.throws(() => bootcInVmArgs(bootc({ composefsBackend: true, filesystem: 'xfs' })), UsageError, "bootc-command's own checks apply");
});

// ---- kernel command line and unit ------------------------------------------------------

t.test('kernel command line: virtiofs root, serial console, no prompts', async (t) => {
  t.same(installerVmKargs(), [
    'console=ttyS0',
    'rootfstype=virtiofs',
    'root=rootfs',
    'rw',
    'selinux=0',
    'systemd.mask=systemd-journal-flush.service',
    'systemd.mask=bootloader-update.service',
    'systemd.firstboot=off',
    'panic=-1',
  ]);
  const k = installerVmKargs({ rootTag: 'root2', extra: ['loglevel=7', 'console=ttyS0'] });
  t.ok(k.includes('root=root2'));
  t.equal(k.filter((x) => x === 'console=ttyS0').length, 1, 'no duplicate');
  t.equal(k.at(-1), 'loglevel=7');
  t.throws(() => installerVmKargs({ extra: ['a b'] }), UsageError);
  t.throws(() => installerVmKargs({ rootTag: 'root fs' }), UsageError);
});

t.test('install unit: waits, mounts, installs, reports, powers off', async (t) => {
  const args = bootcInVmArgs(bootc());
  const unit = installerUnit({ bootcArgs: args, targetSerial: SERIAL, waitForTpm: true });
  const lines = unit.split('\n');
  const value = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  t.same(value('ConditionPathExists'), ['!/etc/initrd-release'], 'not in the initrd');
  t.same(value('SuccessAction'), ['poweroff']);
  t.same(value('FailureAction'), ['poweroff']);
  t.same(value('Type'), ['oneshot']);
  t.same(value('Environment'), ['STORAGE_OPTS=additionalimagestore=/run/bootc-harness/hoststorage']);
  t.same(value('ExecStartPre').map(systemdSplit), [
    ['/usr/bin/udevadm', 'wait', '--timeout=120', '/dev/disk/by-id/virtio-bh-target', '/dev/tpmrm0'],
    ['/usr/bin/mkdir', '-p', '/run/bootc-harness/hoststorage'],
    ['/usr/bin/mount', '-t', 'virtiofs', '-o', 'ro', 'hoststorage', '/run/bootc-harness/hoststorage'],
    ['/usr/bin/mount', '-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', '/var/tmp'],
    ['/usr/bin/mkdir', '-p', '-m', '0700', '/var/tmp/containers', '/var/lib/containers'],
    ['/usr/bin/mount', '--bind', '/var/tmp/containers', '/var/lib/containers'],
  ], 'no scratch size: no swap, a default tmpfs');
  t.same(value('ExecStart').map(systemdSplit), [['/usr/bin/bootc', ...args.slice(1)]], 'bootc argv survives the unit file');
  const [post] = value('ExecStopPost').map(systemdSplit);
  t.same(post!.slice(0, 2), ['/usr/bin/sh', '-c']);
  t.equal(
    post![2],
    'm="bootc-harness-install: exit=${EXIT_STATUS:-none} code=${EXIT_CODE:-none} result=${SERVICE_RESULT:-none}"; ' +
      'echo "$m" >/dev/console; ' +
      `p=/dev/virtio-ports/${INSTALL_RESULT_PORT}; if [ -e "$p" ]; then echo "$m" >"$p"; fi`,
    'the shell sees ${EXIT_STATUS}, systemd does not expand it',
  );
  t.equal(parseInstallResult(unit), undefined, 'the unit text itself is not a result line');

  const plain = installerUnit({ bootcArgs: bootcInVmArgs(bootc({ blockSetup: undefined })), targetSerial: SERIAL, waitForTpm: false, rustLog: 'debug', deviceTimeoutSec: 30 });
  t.match(plain, /^ExecStartPre=\/usr\/bin\/udevadm wait --timeout=30 \/dev\/disk\/by-id\/virtio-bh-target$/m, 'no TPM wait');
  t.match(plain, /^Environment=RUST_LOG=debug$/m);
  t.throws(() => installerUnit({ bootcArgs: ['podman', 'run'], targetSerial: SERIAL, waitForTpm: false }), UsageError);
});

t.test('install unit: /var/tmp as large as the target disk, swap behind it, the graph root inside (as bcvk)', async (t) => {
  const unit = installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: false, scratchGiB: 20 });
  const pre = unit.split('\n').filter((l) => l.startsWith('ExecStartPre=')).map((l) => systemdSplit(l.slice('ExecStartPre='.length)));
  const at = (argv: string[]) => pre.findIndex((p) => JSON.stringify(p) === JSON.stringify(argv));
  const swap = '/dev/disk/by-id/virtio-bh-swap';
  t.same(pre[0], ['/usr/bin/udevadm', 'wait', '--timeout=120', '/dev/disk/by-id/virtio-bh-target', swap], 'the swap disk is waited for');
  const mkswap = at(['/usr/sbin/mkswap', '-q', swap]);
  const swapon = at(['/usr/sbin/swapon', swap]);
  const tmpfs = at(['/usr/bin/mount', '-t', 'tmpfs', '-o', 'mode=1777,size=20G', 'tmpfs', '/var/tmp']);
  const bind = at(['/usr/bin/mount', '--bind', '/var/tmp/containers', '/var/lib/containers']);
  t.ok(mkswap > 0 && swapon > mkswap && tmpfs > swapon && bind > tmpfs, 'mkswap, swapon, then the sized tmpfs, then the graph root into it');
  t.notOk(pre.some((p) => p.includes('/var/lib/containers') && p[0] === '/usr/bin/mount' && p.includes('tmpfs')), 'no tmpfs of its own on the graph root');
  t.throws(() => installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: false, scratchGiB: 0 }), UsageError);
  t.throws(() => installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: false, scratchGiB: 1.5 }), UsageError);
  const copy = ['/usr/bin/skopeo', '--insecure-policy', 'copy', '--remove-signatures', `containers-storage:${IMAGE}`, `containers-storage:${IMAGE}`];
  const withCopy = installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: false, preInstall: [copy] });
  const last = withCopy.split('\n').filter((l) => l.startsWith('ExecStartPre=')).at(-1)!;
  t.same(systemdSplit(last.slice('ExecStartPre='.length)), copy, 'an extra step runs last, once the stores are mounted');
});

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

t.test('credentials: the unit and its multi-user.target drop-in, base64 over SMBIOS type 11', async (t) => {
  const unit = installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: true });
  const q = installerUnitCredentialArgs(unit);
  t.equal(q.length, 4);
  t.same([q[0], q[2]], ['-smbios', '-smbios']);
  const decode = (s: string) => {
    const m = /^type=11,value=io\.systemd\.credential\.binary:([^=]+)=([A-Za-z0-9+/=]+)$/.exec(s);
    t.ok(m, `shape: ${s.slice(0, 60)}`);
    return [m![1], Buffer.from(m![2]!, 'base64').toString('utf8')];
  };
  t.same(decode(q[1]!), ['systemd.extra-unit.bootc-harness-install.service', unit]);
  t.same(decode(q[3]!), ['systemd.unit-dropin.multi-user.target~bootc-harness-install', '[Unit]\nWants=bootc-harness-install.service\n']);
  pure(t, q, 'credentials');
  t.throws(() => systemdCredentialArgs('a,b', 'x'), UsageError, 'a comma would end value=');
  t.throws(() => systemdCredentialArgs('a=b', 'x'), UsageError);
  t.throws(() => installerUnitCredentialArgs('[Unit]\n'), UsageError);
});

// ---- QEMU ---------------------------------------------------------------------------

t.test('installer VM: the whole QEMU argv', async (t) => {
  const creds = installerUnitCredentialArgs(installerUnit({ bootcArgs: bootcInVmArgs(bootc()), targetSerial: SERIAL, waitForTpm: true }));
  const a = installerVmQemuArgs(vm({ extraArgs: creds }));
  t.same(a, [
    'qemu-system-x86_64',
    '-name', 'bootc-harness-installer',
    '-machine', 'q35,smm=off',
    '-accel', 'kvm', '-cpu', 'host',
    '-smp', '2',
    '-m', '4096',
    '-object', 'memory-backend-memfd,id=mem,size=4096M,share=on',
    '-numa', 'node,memdev=mem',
    '-nodefaults',
    '-display', 'none',
    '-no-user-config',
    '-no-reboot',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-kernel', `${RUN}/vmlinuz`,
    '-initrd', `${RUN}/initrd.img`,
    '-append', 'console=ttyS0 rootfstype=virtiofs root=rootfs rw selinux=0 systemd.mask=systemd-journal-flush.service systemd.mask=bootloader-update.service systemd.firstboot=off panic=-1',
    '-chardev', `socket,id=vfs-rootfs,path=${RUN}/vfs-rootfs.sock`,
    '-device', 'vhost-user-fs-pci,queue-size=1024,chardev=vfs-rootfs,tag=rootfs',
    '-chardev', `socket,id=vfs-hoststorage,path=${RUN}/vfs-storage.sock`,
    '-device', 'vhost-user-fs-pci,queue-size=1024,chardev=vfs-hoststorage,tag=hoststorage',
    '-drive', `file=${RUN}/disk.raw,format=raw,if=none,id=target,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=target,serial=bh-target',
    '-device', 'virtio-rng-pci',
    '-chardev', `socket,id=tpmchr,path=${RUN}/swtpm.sock`,
    '-tpmdev', 'emulator,id=tpm0,chardev=tpmchr',
    '-device', 'tpm-crb,tpmdev=tpm0',
    ...creds,
  ]);
  pure(t, a, 'qemu');
  t.notOk(a.some((x) => /netdev|virtio-net|-nic/.test(x)), 'no network');
});

t.test('installer VM: TCG, UEFI firmware, console log, result port, QMP, commas', async (t) => {
  const a = installerVmQemuArgs(
    vm({
      accel: 'tcg',
      firmware: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: `${RUN}/OVMF_VARS.fd` },
      consoleLog: `${RUN}/installer-console.log`,
      resultFile: `${RUN}/install-result`,
      qmpSocket: `${RUN}/installer-qmp.sock`,
      targetDisk: { path: '/var/tmp/a,b/disk.qcow2', format: 'qcow2', serial: SERIAL },
      tpmSocket: undefined,
    }),
  );
  const seq = (s: readonly string[]) => a.some((_, i) => s.every((x, j) => a[i + j] === x));
  t.ok(seq(['-accel', 'tcg,thread=multi', '-cpu', 'max']), 'tcg');
  t.ok(seq(['-chardev', `stdio,id=console,signal=off,logfile=${RUN}/installer-console.log,logappend=off`]), 'console copied to a file');
  t.ok(seq(['-qmp', `unix:${RUN}/installer-qmp.sock,server=on,wait=off`]), 'qmp');
  t.ok(seq(['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd', '-drive', `if=pflash,format=raw,unit=1,file=${RUN}/OVMF_VARS.fd`]), 'pflash as in qemuArgs');
  t.ok(seq(['-drive', 'file=/var/tmp/a,,b/disk.qcow2,format=qcow2,if=none,id=target,cache=unsafe,discard=unmap']), 'comma in a path doubled');
  t.ok(seq([
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `file,id=result,path=${RUN}/install-result`,
    '-device', `virtserialport,bus=vser0.0,chardev=result,name=${INSTALL_RESULT_PORT}`,
  ]), 'result port');
  t.notOk(a.some((x) => x.startsWith('tpm-crb') || x === '-tpmdev'), 'no TPM when none is given');
  pure(t, a, 'qemu');
});

t.test('installer VM: a swap disk beside the target', async (t) => {
  const a = installerVmQemuArgs(vm({ swapDisk: { path: `${RUN}/installer-swap.img`, serial: 'bh-swap' } }));
  const seq = (s: readonly string[]) => a.some((_, i) => s.every((x, j) => a[i + j] === x));
  t.ok(seq(['-drive', `file=${RUN}/installer-swap.img,format=raw,if=none,id=swap,cache=unsafe,discard=unmap`, '-device', 'virtio-blk-pci,drive=swap,serial=bh-swap']));
  t.notOk(installerVmQemuArgs(vm()).some((x) => x.includes('id=swap')), 'none unless asked for');
  t.throws(() => installerVmQemuArgs(vm({ swapDisk: { path: 'swap.img', serial: 'bh-swap' } })), UsageError);
  t.throws(() => installerVmQemuArgs(vm({ swapDisk: { path: `${RUN}/s.img`, serial: 'bad serial' } })), UsageError);
});

t.test('installer VM: bad input', async (t) => {
  t.throws(() => installerVmQemuArgs(vm({ kernel: 'vmlinuz' })), UsageError);
  t.throws(() => installerVmQemuArgs(vm({ cpus: 0 })), UsageError);
  t.throws(() => installerVmQemuArgs(vm({ memoryMiB: 100 })), UsageError);
  t.throws(() => installerVmQemuArgs(vm({ kargs: ['a b'] })), UsageError);
  t.throws(() => installerVmQemuArgs(vm({ kargs: ['x'.repeat(2048)] })), UsageError, 'x86 command line limit');
  t.throws(() => installerVmQemuArgs(vm({ targetDisk: { path: `${RUN}/d.raw`, format: 'raw', serial: 'no spaces allowed' } })), UsageError);
});

// ---- the result line ------------------------------------------------------------------

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
