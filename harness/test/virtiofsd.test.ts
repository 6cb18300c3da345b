import t from 'tap';
import { UsageError } from '../src/errors.js';
import { virtiofsdArgs, virtiofsdHelpHas } from '../src/vm/virtiofsd.js';
import { pure } from './helpers/argv.js';

const RUN = '/var/tmp/bootc-harness/run-1';

/** The value that follows `flag`, or undefined. */
const valueOf = (argv: readonly string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

t.test('virtiofsd: one directory on one socket; --readonly exactly when the share must be read-only', async (t) => {
  const root = virtiofsdArgs({ sharedDir: '/var/lib/containers/storage/overlay/abc/merged', socket: `${RUN}/vfs-rootfs.sock`, readOnly: false });
  t.equal(root[0], '/usr/libexec/virtiofsd', "Debian's binary unless told");
  t.equal(valueOf(root, '--shared-dir'), '/var/lib/containers/storage/overlay/abc/merged');
  t.equal(valueOf(root, '--socket-path'), `${RUN}/vfs-rootfs.sock`);
  t.equal(valueOf(root, '--sandbox'), 'namespace', "virtiofsd's own sandbox: the guest sees nothing outside the share");
  t.notOk(root.includes('--readonly'), 'the root share is writable (a throwaway working container)');
  const storage = virtiofsdArgs({ sharedDir: '/var/lib/containers/storage', socket: `${RUN}/vfs-storage.sock`, readOnly: true, cache: 'never', sandbox: 'none', binary: '/usr/bin/virtiofsd' });
  t.ok(storage.includes('--readonly'), 'host storage: the daemon refuses writes, not only the guest mount');
  t.equal(valueOf(storage, '--cache'), 'never');
  t.equal(storage[0], '/usr/bin/virtiofsd');
  pure(t, root, 'virtiofsd');
  t.throws(() => virtiofsdArgs({ sharedDir: 'rel/dir', socket: '/s', readOnly: false }), UsageError, 'paths are absolute');
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
