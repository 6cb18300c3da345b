// The bootc installer's host side: which install configs of the image it reads, the one-line
// refusal when the image does not allow the block setup asked for or its bootc is too old for a
// flag the run needs, and the name bootc records for the installed image.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_CONFIG_DIRS, readInstallConfigs, targetImgrefOf } from '../src/install/bootc-install.js';
import { UsageError } from '../src/errors.js';
import {
  FLAG_SINCE,
  bootcInstallArgs,
  bootcInstallCommand,
  checkBlockSetupAllowed,
  parseVersion,
  versionAtLeast,
  type BootcInstallOptions,
} from '../src/install/bootc-command.js';

t.test('install configs are read from the image in precedence order, .toml only', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bh-bootc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same(await readInstallConfigs(root), [], 'an image without configs');
  mkdirSync(join(root, 'usr/lib/bootc/install'), { recursive: true });
  mkdirSync(join(root, 'etc/bootc/install'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/bootc/install/00-os.toml'), '[install]\nblock = ["direct", "tpm2-luks"]\n');
  writeFileSync(join(root, 'usr/lib/bootc/install/README'), 'not a config');
  writeFileSync(join(root, 'etc/bootc/install/00-os.toml'), '[install]\nblock = ["direct"]\n');
  const configs = await readInstallConfigs(root);
  t.same(configs.map((c) => c.path), ['/usr/lib/bootc/install/00-os.toml', '/etc/bootc/install/00-os.toml']);
  t.same(INSTALL_CONFIG_DIRS[0], 'usr/lib/bootc/install');
  t.equal(
    checkBlockSetupAllowed(configs, 'tpm2-luks'),
    'image install config /etc/bootc/install/00-os.toml allows block setups direct, not tpm2-luks',
    '/etc overrides the same-named file in /usr/lib, and the refusal names it',
  );
  t.equal(checkBlockSetupAllowed(configs.slice(0, 1), 'tpm2-luks'), undefined, 'allowed when the image says so');
});

t.test('tpm2-luks cannot be installed from the host: it would bind the host\'s TPM', async (t) => {
  t.throws(
    () =>
      bootcInstallCommand(
        { imageRef: 'localhost/x:1', targetDevice: '/output/disk.raw', filesystem: 'ext4', kargs: [], composefsBackend: false, blockSetup: 'tpm2-luks', viaLoopback: true, genericImage: true },
        [{ host: '/w', guest: '/output' }],
      ),
    { message: /tpm2-luks binds the disk to the TPM bootc sees/ },
  );
});

t.test('the image\'s bootc version reaches the host command line', async (t) => {
  const o = { imageRef: 'localhost/x:1', targetDevice: '/output/disk.raw', filesystem: 'ext4' as const, kargs: [], composefsBackend: true, viaLoopback: true, genericImage: true };
  t.throws(() => bootcInstallCommand({ ...o, bootcVersion: '1.9.0' }, []), { name: 'UsageError', message: /--composefs-backend.*1\.10.*1\.9\.0/ });
  t.ok(bootcInstallCommand({ ...o, bootcVersion: '1.12.0' }, []).includes('--composefs-backend'));
});

t.test('--target-imgref: the image\'s own name (what bootc status shows), never a transport reference', async (t) => {
  t.equal(targetImgrefOf('quay.io/centos-bootc/centos-bootc:stream10'), 'quay.io/centos-bootc/centos-bootc:stream10');
  t.equal(targetImgrefOf('localhost:5000/x/y@sha256:' + 'a'.repeat(64)), 'localhost:5000/x/y@sha256:' + 'a'.repeat(64), 'a registry port is not a transport');
  t.equal(targetImgrefOf('containers-storage:localhost/x'), undefined);
  t.equal(targetImgrefOf('oci:/tmp/x'), undefined);
  t.equal(targetImgrefOf('docker://quay.io/x'), undefined);
  t.equal(targetImgrefOf('-x'), undefined);
  t.equal(targetImgrefOf('a b'), undefined);
});

// ---- the image's bootc version ------------------------------------------------------

/** The UsageError bootcInstallArgs throws, or undefined when it builds a command line. */
function refusal(o: BootcInstallOptions): string | undefined {
  try {
    bootcInstallArgs(o);
    return undefined;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return e.message;
  }
}

/** bootc in the installer VM, writing to its virtio target disk. */
const vm = (over: Partial<BootcInstallOptions> = {}): BootcInstallOptions => ({
  imageRef: 'localhost/bootc-harness/snow:run-1',
  targetDevice: '/dev/disk/by-id/virtio-bh-target',
  filesystem: 'ext4',
  kargs: [],
  composefsBackend: false,
  viaLoopback: false,
  genericImage: true,
  ...over,
});
const composefs = (v: string | undefined, over: Partial<BootcInstallOptions> = {}) => vm({ composefsBackend: true, ...(v ? { bootcVersion: v } : {}), ...over });
const xfsNoVerity = { filesystem: 'xfs' as const, allowMissingVerity: true };

t.test('bootc 1.9: the ostree backend installs; --composefs-backend is refused, naming the flag, 1.10 and 1.9', async (t) => {
  const ostree = bootcInstallArgs(vm({ bootcVersion: '1.9.2' }));
  t.ok(ostree.includes('--block-setup'), 'the ostree command line is built');
  t.notOk(ostree.includes('--composefs-backend'));
  const why = refusal(composefs('1.9.2'));
  t.match(why, /--composefs-backend/);
  t.match(why, /\b1\.10\b/, 'the version that added it');
  t.match(why, /\b1\.9\.2\b/, "the image's version");
  t.notMatch(why, /\n/, 'one line');
  t.throws(() => bootcInstallArgs(composefs('1.9.2')), UsageError, 'exit 2');
});

t.test('bootc 1.12: --composefs-backend passes; --allow-missing-verity is refused, naming 1.14 and 1.12', async (t) => {
  const a = bootcInstallArgs(composefs('1.12.1'));
  t.ok(a.includes('--composefs-backend'));
  t.notOk(a.includes('--allow-missing-verity'), 'ext4 has fs-verity: the flag is not needed');
  const why = refusal(composefs('1.12.1', xfsNoVerity));
  t.match(why, /--allow-missing-verity/);
  t.match(why, /\b1\.14\b/);
  t.match(why, /\b1\.12\.1\b/);
  t.notMatch(why, /--composefs-backend/, 'only the flag this version lacks is named');
});

t.test('bootc 1.16: composefs on xfs gets both flags; --block-setup stays explicit', async (t) => {
  const a = bootcInstallArgs(composefs('1.16.3', xfsNoVerity));
  t.ok(a.includes('--composefs-backend'));
  t.ok(a.includes('--allow-missing-verity'));
  t.equal(a[a.indexOf('--block-setup') + 1], 'direct');
});

t.test('unknown version: the full command line, nothing refused', async (t) => {
  const a = bootcInstallArgs(composefs(undefined, xfsNoVerity));
  for (const [flag] of FLAG_SINCE) t.ok(a.includes(flag), flag);
});

t.test('versions: distro suffixes, epochs stripped by the reader, boundaries', async (t) => {
  t.same(parseVersion('1.14.0~rc1'), [1, 14, 0], 'a pre-release of 1.14 counts as 1.14');
  t.same(parseVersion('1.10'), [1, 10, 0]);
  t.equal(parseVersion('git'), undefined);
  t.ok(versionAtLeast([1, 10, 0], [1, 10, 0]));
  t.ok(versionAtLeast([1, 10, 1], [1, 10, 0]));
  t.ok(versionAtLeast([2, 0, 0], [1, 14, 0]));
  t.notOk(versionAtLeast([1, 9, 99], [1, 10, 0]), '1.9.99 < 1.10: numbers, not strings');
  t.equal(refusal(composefs('1.10.0')), undefined, 'the first release with the flag');
  t.equal(refusal(composefs('1.14.0', xfsNoVerity)), undefined);
  t.equal(refusal(composefs('nightly', xfsNoVerity)), undefined, 'unparsable: treated as unknown');
});
