import t from 'tap';
import { rootKeyCredentialQemuArgs } from '../src/vm/credentials.js';
import { UsageError } from '../src/errors.js';
import {
  bootcInstallArgs,
  bootcInstallCommand,
  checkBlockSetupAllowed,
  parseInstallConfig,
  podmanRunArgs,
  rootKeyPlacement,
  type BootcInstallOptions,
} from '../src/install/bootc-command.js';
import { classifyPodmanFailure } from '../src/install/bootc-install.js';

const IMAGE = 'localhost/bootc-harness/snow:run-1';
const RUN_DIR = '/var/tmp/bootc-harness/run-1';

/** Host placement: podman on the host, bootc writes a disk image file through a loop device. */
const host = (over: Partial<BootcInstallOptions> = {}): BootcInstallOptions => ({
  imageRef: IMAGE,
  targetDevice: '/output/disk.raw',
  filesystem: 'ext4',
  kargs: [],
  authorizedKeysPath: '/output/authorized_keys',
  composefsBackend: false,
  viaLoopback: true,
  genericImage: true,
  ...over,
});

/** VM placement: bootc runs inside an installer VM against a virtio disk. */
const vm = (over: Partial<BootcInstallOptions> = {}): BootcInstallOptions => ({
  ...host(),
  targetDevice: '/dev/disk/by-id/virtio-bh-target',
  authorizedKeysPath: '/run/bh/authorized_keys',
  viaLoopback: false,
  ...over,
});

const PODMAN_PREFIX = [
  'podman', 'run', '--rm', '--privileged', '--pid=host', '--ipc=host',
  '-v', '/var/lib/containers:/var/lib/containers',
  '-v', '/dev:/dev',
  '--security-opt', 'label=type:unconfined_t',
];

t.test('host placement: podman, --via-loopback, the run dir as /output', async (t) => {
  const argv = bootcInstallCommand(host({ kargs: ['quiet'] }), [{ host: RUN_DIR, guest: '/output' }]);
  t.same(argv, [
    ...PODMAN_PREFIX,
    '-v', `${RUN_DIR}:/output`,
    IMAGE,
    'bootc', 'install', 'to-disk',
    '--via-loopback', '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'direct',
    '--karg', 'console=ttyS0',
    '--karg', 'quiet',
    '--root-ssh-authorized-keys', '/output/authorized_keys',
    '/output/disk.raw',
  ]);
  t.equal(argv.at(-1), '/output/disk.raw', 'the target is the last argument');
});

t.test('vm placement: a block device, no loopback, no extra mounts', async (t) => {
  const bootc = bootcInstallArgs(vm({ genericImage: false, filesystem: 'xfs', targetImgref: 'quay.io/example/snow:latest' }));
  t.same(bootc, [
    'bootc', 'install', 'to-disk',
    '--wipe',
    '--filesystem', 'xfs',
    '--block-setup', 'direct',
    '--target-imgref', 'quay.io/example/snow:latest',
    '--karg', 'console=ttyS0',
    '--root-ssh-authorized-keys', '/run/bh/authorized_keys',
    '/dev/disk/by-id/virtio-bh-target',
  ]);
  t.notOk(bootc.includes('--via-loopback'));
  const inVm = podmanRunArgs({ imageRef: IMAGE, mounts: [{ host: '/run/bh', guest: '/run/bh', readOnly: true }], bootcArgs: bootc });
  t.same(inVm, [...PODMAN_PREFIX, '-v', '/run/bh:/run/bh:ro', IMAGE, ...bootc]);
});

t.test('console=ttyS0 comes first, once', async (t) => {
  const a = bootcInstallArgs(vm({ kargs: ['loglevel=7', 'console=ttyS0', 'rd.debug'] }));
  const kargs = a.flatMap((x, i) => (x === '--karg' ? [a[i + 1]] : []));
  t.same(kargs, ['console=ttyS0', 'loglevel=7', 'rd.debug']);
});

t.test('composefs backend: no --root-ssh-authorized-keys, the key goes in as an SMBIOS credential', async (t) => {
  const o = host({ composefsBackend: true });
  t.same(bootcInstallArgs(o), [
    'bootc', 'install', 'to-disk',
    '--via-loopback', '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'direct',
    '--composefs-backend',
    '--karg', 'console=ttyS0',
    '/output/disk.raw',
  ]);
  t.equal(rootKeyPlacement(o), 'smbios-credential');
  t.equal(rootKeyPlacement(host()), 'bootc-flag');
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBh harness run-1, test';
  const q = rootKeyCredentialQemuArgs(key);
  t.same(q, ['-smbios', `type=11,value=io.systemd.credential.binary:ssh.authorized_keys.root=${Buffer.from(key + '\n').toString('base64')}`]);
  t.notMatch(q[1]!, /,.*,/, 'one comma only: base64 needs no QEMU escaping');
  t.throws(() => rootKeyCredentialQemuArgs('  \n'), UsageError);
});

t.test('composefs on xfs needs --allow-missing-verity', async (t) => {
  t.throws(() => bootcInstallArgs(vm({ composefsBackend: true, filesystem: 'xfs' })), UsageError);
  const a = bootcInstallArgs(vm({ composefsBackend: true, filesystem: 'xfs', allowMissingVerity: true }));
  t.ok(a.includes('--allow-missing-verity'));
  t.throws(() => bootcInstallArgs(vm({ allowMissingVerity: true })), UsageError, 'only with composefs');
});

t.test('tpm2-luks: in the VM only', async (t) => {
  t.same(bootcInstallArgs(vm({ blockSetup: 'tpm2-luks' })), [
    'bootc', 'install', 'to-disk',
    '--generic-image', '--wipe',
    '--filesystem', 'ext4',
    '--block-setup', 'tpm2-luks',
    '--karg', 'console=ttyS0',
    '--root-ssh-authorized-keys', '/run/bh/authorized_keys',
    '/dev/disk/by-id/virtio-bh-target',
  ]);
  t.throws(() => bootcInstallArgs(host({ blockSetup: 'tpm2-luks' })), { name: 'UsageError', message: /TPM/ });
});

t.test('source imgref is passed through', async (t) => {
  const a = bootcInstallArgs(vm({ sourceImgref: 'containers-storage:localhost/snow' }));
  t.ok(a.join(' ').includes('--source-imgref containers-storage:localhost/snow'));
});

t.test('bad input is a UsageError', async (t) => {
  t.throws(() => bootcInstallArgs(host({ targetDevice: 'disk.raw' })), UsageError, 'relative target');
  t.throws(() => bootcInstallArgs(host({ targetDevice: '/dev/vdb' })), UsageError, 'loopback to a device');
  t.throws(() => bootcInstallArgs(vm({ targetDevice: '/output/disk.raw' })), UsageError, 'a file without loopback');
  t.throws(() => bootcInstallArgs(vm({ kargs: ['a b'] })), UsageError, 'whitespace in a karg');
  t.throws(() => bootcInstallArgs(vm({ kargs: ['--wipe'] })), UsageError, 'a karg that looks like a flag');
  t.throws(() => bootcInstallArgs(vm({ authorizedKeysPath: 'keys' })), UsageError);
  const bootc = bootcInstallArgs(vm());
  t.throws(() => podmanRunArgs({ imageRef: IMAGE, mounts: [{ host: '/a:b', guest: '/x' }], bootcArgs: bootc }), UsageError);
  t.throws(() => podmanRunArgs({ imageRef: IMAGE, mounts: [{ host: 'rel', guest: '/x' }], bootcArgs: bootc }), UsageError);
  t.throws(() => podmanRunArgs({ imageRef: '--privileged', mounts: [], bootcArgs: bootc }), UsageError);
  t.throws(() => podmanRunArgs({ imageRef: IMAGE, mounts: [], bootcArgs: ['sh', '-c', 'x'] }), UsageError);
});

t.test('install config parser', async (t) => {
  t.same(parseInstallConfig('[install.filesystem.root]\ntype = "xfs"\n'), { hasInstall: true, rootFs: 'xfs' });
  t.same(
    parseInstallConfig(`# base image
[install]
block = [
  "direct",   # the default
  'tpm2-luks',
]
kargs = ["nosmt", "console=tty0"]
stateroot = "myos"
enforce-container-sigpolicy = true

[install.filesystem.root]
type = "btrfs"

[install.ostree]
bls-append-except-default = 'grub_users=""'
`),
    { hasInstall: true, allowedBlock: ['direct', 'tpm2-luks'], rootFs: 'btrfs' },
  );
  t.same(parseInstallConfig('[install]\nroot-fs-type = "ext4"\n'), { hasInstall: true, rootFs: 'ext4' }, 'older key');
  t.same(
    parseInstallConfig('[install]\nroot-fs-type = "ext4"\n[install.filesystem]\nroot = { type = "xfs" }\n'),
    { hasInstall: true, rootFs: 'xfs' },
    'filesystem.root.type wins; inline table',
  );
  t.same(parseInstallConfig('install.block = ["tpm2-luks"]\n'), { hasInstall: true, allowedBlock: ['tpm2-luks'] }, 'dotted key');
  t.same(parseInstallConfig('[install]\nmatch-architectures = ["aarch64"]\n'), { hasInstall: true, matchArchitectures: ['aarch64'] });
  t.same(parseInstallConfig(''), { hasInstall: false });
  t.same(parseInstallConfig('[other]\nx = 1\n'), { hasInstall: false });
  t.throws(() => parseInstallConfig('[install]\nblock = "direct"\n'), /array of strings/);
  t.throws(() => parseInstallConfig('[install]\nblock = ["direct"\n'), /line \d+/);
  t.throws(() => parseInstallConfig('[install\n'), /line 1/);
});

t.test('block setup check', async (t) => {
  const fs = { path: '/usr/lib/bootc/install/00-snow.toml', text: '[install.filesystem.root]\ntype = "ext4"\n' };
  t.equal(checkBlockSetupAllowed([], 'tpm2-luks'), undefined, 'no config: bootc takes any --block-setup');
  t.equal(checkBlockSetupAllowed([{ path: '/usr/lib/bootc/install/README.toml', text: '# nothing\n' }], 'tpm2-luks'), undefined, 'no [install]: not counted');
  t.equal(checkBlockSetupAllowed([fs], 'direct'), undefined);
  t.equal(
    checkBlockSetupAllowed([fs], 'tpm2-luks'),
    'image install config /usr/lib/bootc/install/00-snow.toml sets no block, so bootc allows only direct, not tpm2-luks',
  );
  const x = { path: '/usr/lib/bootc/install/00-x.toml', text: '[install]\nblock = ["direct"]\n' };
  t.equal(checkBlockSetupAllowed([x], 'tpm2-luks'), 'image install config /usr/lib/bootc/install/00-x.toml allows block setups direct, not tpm2-luks');
  const both = { path: '/usr/lib/bootc/install/50-luks.toml', text: '[install]\nblock = ["direct", "tpm2-luks"]\n' };
  t.equal(checkBlockSetupAllowed([both, x], 'tpm2-luks'), undefined, 'files apply in name order: 50 after 00');
  const only = { path: '/etc/bootc/install/90-lock.toml', text: '[install]\nblock = ["tpm2-luks"]\n' };
  t.match(checkBlockSetupAllowed([x, both, only], 'direct'), /90-lock\.toml allows block setups tpm2-luks, not direct/);
  const override = { path: '/etc/bootc/install/00-x.toml', text: '[install]\nblock = ["tpm2-luks"]\n' };
  t.equal(checkBlockSetupAllowed([x, override], 'tpm2-luks'), undefined, '/etc replaces a same-named /usr/lib file');
  const arm = { path: '/usr/lib/bootc/install/60-arm.toml', text: '[install]\nblock = ["direct"]\nmatch-architectures = ["aarch64"]\n' };
  t.equal(checkBlockSetupAllowed([both, arm], 'tpm2-luks'), undefined, 'another architecture does not count');
  t.match(checkBlockSetupAllowed([both, arm], 'tpm2-luks', 'aarch64'), /60-arm\.toml allows block setups direct/);
  t.match(checkBlockSetupAllowed([{ path: '/usr/lib/bootc/install/01-bad.toml', text: '[install\n' }], 'direct'), /01-bad\.toml does not parse: line 1/);
});

t.test('podman failure classifier', async (t) => {
  const cases: [string, RegExp][] = [
    ['Error: crun: creating cgroup directory `/sys/fs/cgroup/libpod_parent/x`: Read-only file system: OCI runtime error', /cgroup/],
    ['Error: runc: runc create failed: unable to start container process: error during container init: error mounting "cgroup": permission denied: OCI runtime permission denied error', /cgroup/],
    ['Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1', /namespaces/],
    ['Error: crun: mount `proc` to `proc`: Operation not permitted: OCI runtime permission denied error', /OCI runtime could not start/],
    ['Error: crun: cap_set_proc: setting CAP_SYS_ADMIN: Operation not permitted: OCI runtime error', /missing capability CAP_SYS_ADMIN/],
    ['time="2026-01-01T00:00:00Z" level=error msg="cannot clone: Operation not permitted"', /namespaces/],
    ['Error: AppArmor enabled on system but the apparmor profile could not be loaded', /security policy/],
  ];
  for (const [stderr, re] of cases) {
    const why = classifyPodmanFailure(`WARN[0000] some warning\n${stderr}\n`);
    t.match(why, re, stderr);
    t.match(why, /^podman cannot run a privileged container on this host: /);
    t.notMatch(why, /\n/, 'one line');
  }
  t.equal(classifyPodmanFailure(''), undefined);
  t.equal(classifyPodmanFailure('error: Installing to disk: Creating rootfs: mkfs.ext4: Operation not permitted\n'), undefined, "bootc's own error is about the image");
  t.equal(classifyPodmanFailure('Error: localhost/nope: image not known\n'), undefined, 'not a privilege problem');
  const long = classifyPodmanFailure(`Error: crun: cgroup ${'x'.repeat(500)}`)!;
  t.ok(long.length < 300, 'detail is cut');
});

t.test('--block-setup is always explicit, direct unless tpm2-luks is asked for: bootc would otherwise take the image\'s first listed block setup', async (t) => {
  for (const o of [host(), vm(), vm({ composefsBackend: true })]) {
    const a = bootcInstallArgs(o);
    t.equal(a[a.indexOf('--block-setup') + 1], 'direct');
  }
  const luks = bootcInstallArgs(vm({ blockSetup: 'tpm2-luks' }));
  t.equal(luks[luks.indexOf('--block-setup') + 1], 'tpm2-luks');
  // bootc's fetch check is opt-in (--run-fetch-check, crates/lib/src/install.rs InstallTargetOpts):
  // --skip-fetch-check would ask for what is already the default.
  t.notOk(bootcInstallArgs(vm()).some((a) => a.endsWith('-fetch-check')), 'no fetch-check flag either way');
});

t.test('install configs: only match-architectures filters (bootc reads no match_architectures)', async (t) => {
  const onlyArm = (key: string) => ({ path: '/usr/lib/bootc/install/10-arm.toml', text: `[install]\n${key} = ["aarch64"]\nblock = ["tpm2-luks"]\n` });
  t.equal(checkBlockSetupAllowed([onlyArm('match-architectures')], 'direct'), undefined, 'an aarch64-only config does not apply on x86_64');
  t.match(checkBlockSetupAllowed([onlyArm('match_architectures')], 'direct') ?? '', /direct/, 'a snake_case key filters nothing: the config applies and allows only tpm2-luks');
});
