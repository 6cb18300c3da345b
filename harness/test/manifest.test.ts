import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../src/errors.js';
import { diffManifest, formatLosses, takeManifest, type Manifest } from '../src/image/manifest.js';
import { run, runChecked } from '../src/util/exec.js';

const sh = (...argv: string[]) => runChecked(argv, { stage: 'image' });
const WEIRD = 'we\\ird\nname';

/** A temp dir on a filesystem that accepts security.* xattrs (tmpfs may not). */
async function xattrCapableTmp(): Promise<string> {
  for (const base of [os.tmpdir(), '/var/tmp']) {
    const dir = fs.mkdtempSync(path.join(base, 'bh-manifest-'));
    fs.writeFileSync(path.join(dir, 'probe'), '');
    const r = await run(['setfattr', '-n', 'security.probe', '-v', '1', path.join(dir, 'probe')], { stage: 'image' });
    fs.rmSync(path.join(dir, 'probe'));
    if (r.exitCode === 0) return dir;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('no filesystem here accepts security.* xattrs');
}

/** A small rootfs with one of everything the manifest must notice. */
async function buildTree(root: string): Promise<void> {
  for (const d of ['usr/bin', 'usr/lib', 'etc', 'srv/shared', 'home/user', 'proc/1', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const file = (p: string, mode = 0o644) => { fs.writeFileSync(path.join(root, p), p); fs.chmodSync(path.join(root, p), mode); };
  file('usr/bin/sudo', 0o4755);
  fs.chmodSync(path.join(root, 'srv/shared'), 0o2775);
  file('usr/bin/ping', 0o755);
  await sh('setcap', 'cap_net_raw+ep', path.join(root, 'usr/bin/ping'));
  file('etc/labelled');
  await sh('setfattr', '-n', 'security.test', '-v', 'hello', path.join(root, 'etc/labelled'));
  file(`etc/${WEIRD}`);
  await sh('setfattr', '-n', 'security.test', '-v', 'odd', path.join(root, `etc/${WEIRD}`));
  file('home/user/file');
  fs.chownSync(path.join(root, 'home/user'), 1000, 1000);
  fs.chownSync(path.join(root, 'home/user/file'), 1000, 1000);
  file('usr/lib/a');
  fs.linkSync(path.join(root, 'usr/lib/a'), path.join(root, 'usr/lib/b'));
  fs.symlinkSync('a', path.join(root, 'usr/lib/link'));
  fs.lchownSync(path.join(root, 'usr/lib/link'), 1000, 1000);
  // Contents of /proc are runtime state: must not appear at all.
  file('proc/1/status', 0o4755);
  fs.chownSync(path.join(root, 'proc/1/status'), 1000, 1000);
}

t.test('takeManifest on a real tree, cp -a copy, then losses', async (t) => {
  const tmp = await xattrCapableTmp();
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const src = path.join(tmp, 'src');
  const dst = path.join(tmp, 'dst');
  fs.mkdirSync(src, { mode: 0o755 });
  await buildTree(src);

  const m = await takeManifest(src);
  t.equal(m.version, 1);
  t.same(m.special, [
    { path: '/etc/labelled', mode: '0644', uid: 0, gid: 0, xattrs: { 'security.test': '0x68656c6c6f' } },
    { path: `/etc/${WEIRD}`, mode: '0644', uid: 0, gid: 0, xattrs: { 'security.test': '0x6f6464' } },
    { path: '/srv/shared', mode: '2775', uid: 0, gid: 0 },
    { path: '/usr/bin/ping', mode: '0755', uid: 0, gid: 0, caps: 'cap_net_raw=ep' },
    { path: '/usr/bin/sudo', mode: '4755', uid: 0, gid: 0 },
  ], 'setuid, setgid dir, caps and xattrs (escaped name too), sorted by path');
  t.notOk('xattrs' in m.special.find((e) => e.path === '/usr/bin/ping')!, 'security.capability is reported as caps only');
  t.same(m.owners, { '/home/user': '1000:1000', '/home/user/file': '1000:1000', '/usr/lib/link': '1000:1000' });
  t.same(m.hardlinks, [['/usr/lib/a', '/usr/lib/b']]);
  // dirs: / usr usr/bin usr/lib etc srv srv/shared home home/user proc sys dev (not proc/1)
  t.same(m.counts, { files: 7, dirs: 12, symlinks: 1 });
  t.same(await takeManifest(src), m, 'deterministic');
  t.same(await takeManifest(src + '/'), m, 'trailing slash makes no difference');

  fs.mkdirSync(dst);
  await sh('cp', '-a', `${src}/.`, `${dst}/`);
  const copy = await takeManifest(dst);
  t.same(copy, m, 'cp -a keeps everything');
  t.same(diffManifest(m, copy), []);

  await sh('chmod', 'u-s', path.join(dst, 'usr/bin/sudo'));
  await sh('chmod', 'g-s', path.join(dst, 'srv/shared'));
  await sh('setcap', '-r', path.join(dst, 'usr/bin/ping'));
  await sh('setfattr', '-x', 'security.test', path.join(dst, 'etc/labelled'));
  await sh('chown', '0:0', path.join(dst, 'home/user/file'));
  // Break the hardlink the way a careless copy would: b becomes its own inode.
  await sh('cp', path.join(dst, 'usr/lib/b'), path.join(dst, 'usr/lib/b.new'));
  fs.renameSync(path.join(dst, 'usr/lib/b.new'), path.join(dst, 'usr/lib/b'));

  const losses = diffManifest(m, await takeManifest(dst));
  t.same(losses.map((l) => l.path), ['/etc/labelled', '/home/user/file', '/srv/shared', '/usr/bin/ping', '/usr/bin/sudo', '/usr/lib/a'], 'one loss per damaged path, sorted');
  const what = Object.fromEntries(losses.map((l) => [l.path, l.what]));
  t.match(what['/usr/bin/sudo'], /^setuid bit lost \(mode 4755 -> path missing or without setuid\/setgid\)$/);
  t.match(what['/srv/shared'], /^setgid bit lost/);
  t.equal(what['/usr/bin/ping'], 'file capability lost (cap_net_raw=ep)');
  t.equal(what['/etc/labelled'], 'xattr security.test lost (was 0x68656c6c6f)');
  t.equal(what['/home/user/file'], 'owner changed (1000:1000 -> 0:0 or missing)');
  t.equal(what['/usr/lib/a'], 'hardlink group broken: [/usr/lib/a /usr/lib/b] -> [/usr/lib/a] [/usr/lib/b]');
  t.match(formatLosses(losses), /^\/etc\/labelled: xattr security.test lost/);
});

t.test('takeManifest rejects a missing rootfs as usage', async (t) => {
  await t.rejects(takeManifest('/nonexistent/rootfs'), UsageError);
});

const base = (over: Partial<Manifest> = {}): Manifest => ({
  version: 1,
  special: [
    { path: '/usr/bin/sudo', mode: '4755', uid: 0, gid: 0 },
    { path: '/usr/bin/ping', mode: '0755', uid: 0, gid: 0, caps: 'cap_net_raw=ep' },
    { path: '/usr/bin/newgrp', mode: '6755', uid: 0, gid: 0, xattrs: { 'security.selinux': '0x6100', 'security.ima': '0x01' } },
  ],
  owners: { '/home/u': '1000:1000' },
  hardlinks: [['/a', '/b', '/c']],
  counts: { files: 3, dirs: 1, symlinks: 0 },
  ...over,
});

t.test('diffManifest: pure cases', async (t) => {
  t.same(diffManifest(base(), base()), [], 'equal');
  t.same(diffManifest(base(), base({ counts: { files: 9, dirs: 9, symlinks: 9 } })), [], 'counts alone are not a loss');

  const extra = base();
  extra.special.push({ path: '/usr/bin/extra', mode: '4755', uid: 0, gid: 0 });
  extra.special[2].xattrs!['security.other'] = '0x02';
  t.same(diffManifest(base(), extra), [], 'additions in the target are not losses');

  const changed = base({
    special: [
      { path: '/usr/bin/sudo', mode: '4711', uid: 0, gid: 1000 },
      { path: '/usr/bin/ping', mode: '0755', uid: 0, gid: 0, caps: 'cap_net_admin=ep' },
      { path: '/usr/bin/newgrp', mode: '0755', uid: 0, gid: 0, xattrs: { 'security.selinux': '0x6200' } },
    ],
    owners: { '/home/u': '1000:100', '/usr/bin/sudo': '0:1000' },
    hardlinks: [['/a', '/c']],
  });
  t.same(diffManifest(base(), changed), [
    { path: '/a', what: 'hardlink group broken: [/a /b /c] -> [/a /c] [/b]' },
    { path: '/home/u', what: 'owner changed (1000:1000 -> 1000:100)' },
    { path: '/usr/bin/newgrp', what: 'setuid and setgid bits lost (mode 6755 -> 0755)' },
    { path: '/usr/bin/newgrp', what: 'xattr security.ima lost (was 0x01)' },
    { path: '/usr/bin/newgrp', what: 'xattr security.selinux changed (0x6100 -> 0x6200)' },
    { path: '/usr/bin/ping', what: 'file capability changed (cap_net_raw=ep -> cap_net_admin=ep)' },
    { path: '/usr/bin/sudo', what: 'mode changed (4755 -> 4711)' },
    { path: '/usr/bin/sudo', what: 'owner changed (0:0 -> 0:1000)' },
  ]);

  const gone = diffManifest(base(), base({ special: [], owners: {}, hardlinks: [] }));
  t.same(gone.map((l) => l.what), [
    'hardlink group broken: [/a /b /c] -> [/a] [/b] [/c]',
    'owner changed (1000:1000 -> 0:0 or missing)',
    'setuid and setgid bits lost (mode 6755 -> path missing or without setuid/setgid)',
    'xattr security.ima lost (was 0x01)',
    'xattr security.selinux lost (was 0x6100)',
    'file capability lost (cap_net_raw=ep)',
    'setuid bit lost (mode 4755 -> path missing or without setuid/setgid)',
  ]);
});

t.test('formatLosses', async (t) => {
  t.equal(formatLosses([]), '');
  t.equal(formatLosses([{ path: '/x', what: 'y' }]), '/x: y');
  const many = Array.from({ length: 25 }, (_, i) => ({ path: `/f${String(i).padStart(2, '0')}`, what: 'setuid bit lost' }));
  const lines = formatLosses(many).split('\n');
  t.equal(lines.length, 21);
  t.equal(lines[19], '/f19: setuid bit lost');
  t.equal(lines[20], 'and 5 more');
  t.same(formatLosses(many, 2).split('\n'), ['/f00: setuid bit lost', '/f01: setuid bit lost', 'and 23 more']);
  t.equal(formatLosses(many.slice(0, 20)).split('\n').length, 20, 'exactly max: no "more" line');
});
