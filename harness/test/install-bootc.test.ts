// The bootc installer's host side: which install configs of the image it reads, and the
// one-line refusal when the image does not allow the block setup asked for.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_CONFIG_DIRS, readInstallConfigs } from '../src/install/bootc.js';
import { bootcInstallCommand, checkBlockSetupAllowed } from '../src/install/bootc-args.js';

t.test('install configs are read from the image in precedence order, .toml only', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bh-bootc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.same(readInstallConfigs(root), [], 'an image without configs');
  mkdirSync(join(root, 'usr/lib/bootc/install'), { recursive: true });
  mkdirSync(join(root, 'etc/bootc/install'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/bootc/install/00-os.toml'), '[install]\nblock = ["direct", "tpm2-luks"]\n');
  writeFileSync(join(root, 'usr/lib/bootc/install/README'), 'not a config');
  writeFileSync(join(root, 'etc/bootc/install/00-os.toml'), '[install]\nblock = ["direct"]\n');
  const configs = readInstallConfigs(root);
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
