import t from 'tap';
import { UsageError } from '../src/errors.js';
import { bootcInVmArgs, installerTargetDevice, installerUnit, type BootcInVmOptions } from '../src/install/bootc-vm-unit.js';
import { INSTALL_RESULT_PORT, parseInstallResult } from '../src/vm/oneshot-unit.js';
import { pure, systemdSplit } from './helpers/argv.js';

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

// ---- bootc's command line -----------------------------------------------------------

t.test('bootc in the VM: tpm2-luks, ostree backend', async (t) => {
  const a = bootcInVmArgs(bootc());
  t.same(a, [
    'bootc', 'install', 'to-disk',
    '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'tpm2-luks',
    '--source-imgref', 'oci:/run/bootc-harness/image',
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
    '--source-imgref', 'oci:/run/bootc-harness/image',
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
    '--source-imgref', 'oci:/run/bootc-harness/image',
    '--karg', 'console=ttyS0',
    '--root-ssh-authorized-keys', '/run/credentials/@system/keys',
    '/dev/disk/by-id/virtio-bh-target',
  ]);
});

t.test('bootc in the VM installs the exported image alone, never from container storage (issue 23)', async (t) => {
  const a = bootcInVmArgs(bootc());
  const src = a[a.indexOf('--source-imgref') + 1]!;
  t.equal(src, 'oci:/run/bootc-harness/image', "the read-only share of the image's OCI layout (image-export.ts)");
  t.notOk(a.some((x) => x.includes('containers-storage')), 'no containers-storage reference: the VM has no host store to find one in');
  const unit = installerUnit({ bootcArgs: a, targetSerial: SERIAL, waitForTpm: false });
  t.notMatch(unit, /additionalimagestore|hoststorage|\/var\/lib\/containers\/storage/, 'no additional image store, no share of the host storage');
  t.match(unit, /^ExecStartPre=\/usr\/bin\/mount -t virtiofs -o ro,nodev,nosuid,noexec bhimage \/run\/bootc-harness\/image$/m, 'the one share is read-only and inert');
});

t.test('bootc in the VM: bad input', async (t) => {
  t.equal(installerTargetDevice('bh-target'), '/dev/disk/by-id/virtio-bh-target');
  t.throws(() => installerTargetDevice('a-serial-longer-than-20'), UsageError, 'virtio-blk serials are 20 bytes');
  t.throws(() => installerTargetDevice('bh target'), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ imageRef: '' })), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ imageRef: '--privileged' })), UsageError);
  t.throws(() => bootcInVmArgs(bootc({ composefsBackend: true, filesystem: 'xfs' })), UsageError, "bootc-command's own checks apply");
});

// ---- the unit around it ------------------------------------------------------------

t.test('install unit: waits, mounts, installs, reports, powers off', async (t) => {
  const args = bootcInVmArgs(bootc());
  const unit = installerUnit({ bootcArgs: args, targetSerial: SERIAL, waitForTpm: true });
  const lines = unit.split('\n');
  const value = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  t.same(value('ConditionPathExists'), ['!/etc/initrd-release'], 'not in the initrd');
  t.same(value('SuccessAction'), ['poweroff']);
  t.same(value('FailureAction'), ['poweroff']);
  t.same(value('Type'), ['oneshot']);
  t.same(value('Environment'), [], 'no STORAGE_OPTS: bootc sees no store but the VM\'s own');
  t.same(value('ExecStartPre').map(systemdSplit), [
    ['/usr/bin/udevadm', 'wait', '--timeout=120', '/dev/disk/by-id/virtio-bh-target', '/dev/tpmrm0'],
    ['/usr/bin/mkdir', '-p', '/run/bootc-harness/image'],
    ['/usr/bin/mount', '-t', 'virtiofs', '-o', 'ro,nodev,nosuid,noexec', 'bhimage', '/run/bootc-harness/image'],
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
});
