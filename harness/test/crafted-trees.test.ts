// Crafted image trees the harness must refuse or read safely, decided before any boot: a FIFO
// or a device node where the harness writes or reads (authorized_keys, an install config,
// os-release, the kernel), a block-device node aliasing a loop device over a host canary file,
// presets and .wants linked to host files, directories and a host FIFO, device nodes in the
// /var the composefs layout copies, a setup key's directory swapped for a link to the host.
// Each ends (tap's per-file timeout would catch a blocked event loop) with one line naming the
// path, and every host canary is byte-for-byte as it was.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeFor, formatError } from '../src/cli/exit-codes.js';
import { ImageError, copyFileOutOfRoot, readTextInRoot, removeFileInRoot, writeFileInRoot } from '../src/image/in-root.js';
import { findKernel } from '../src/image/kernel.js';
import { readBootcVersion } from '../src/image/bootc-version.js';
import { enabledUnits } from '../src/image/probe.js';
import { checkSource } from '../src/image/source.js';
import { readInstallConfigs } from '../src/install/bootc-install.js';
import { copyTreesOut } from '../src/install/composefs-layout.js';
import { rootfsImageId } from '../src/run/choose-profile.js';
import { mountedContainer } from '../src/image/buildah.js';
import { Teardown } from '../src/util/teardown.js';
import { which } from '../src/util/tools.js';

const tmp = mkdtempSync(join(tmpdir(), 'bh-crafted-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const isRoot = process.getuid?.() === 0;

function root(): string {
  const r = join(tmp, `img${n++}`);
  mkdirSync(r, { recursive: true });
  return r;
}
function fifo(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  execFileSync('mkfifo', [path]);
}
function mknod(path: string, type: 'c' | 'b', major: number, minor: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  execFileSync('mknod', [path, type, String(major), String(minor)]);
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** The refusal is an ImageError: exit 2, one line, naming the path. */
async function refused(t: Test, p: Promise<unknown>, path: string, kind: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(e, ImageError, `${path}: refused as the image's defect`);
  const line = formatError(e);
  t.equal(line.split('\n').length, 1, 'one line');
  t.ok(line.includes(path), `the line names ${path}: ${line}`);
  t.match(line, kind);
  t.equal(exitCodeFor(e), 2, 'exit 2: input the harness will not consume, nothing judged');
}

t.test('a FIFO at /root/.ssh/authorized_keys is refused, not opened (the event loop never blocks on it)', async (t) => {
  const r = root();
  fifo(join(r, 'root/.ssh/authorized_keys'));
  await refused(t, writeFileInRoot(r, '/root/.ssh/authorized_keys', 'run key\n', 0o600), '/root/.ssh/authorized_keys', /is a FIFO, expected a regular file/);
  await refused(t, readTextInRoot(r, '/root/.ssh/authorized_keys'), '/root/.ssh/authorized_keys', /is a FIFO/);
  t.ok(lstatSync(join(r, 'root/.ssh/authorized_keys')).isFIFO(), 'the FIFO is left as it was');
});

t.test('a FIFO as an install config, os-release or kernel is refused with its path', async (t) => {
  const a = root();
  mkdirSync(join(a, 'usr/lib/bootc/install'), { recursive: true });
  writeFileSync(join(a, 'usr/lib/bootc/install/00-a.toml'), '[install]\n');
  fifo(join(a, 'usr/lib/bootc/install/10-fifo.toml'));
  await refused(t, readInstallConfigs(a), '/usr/lib/bootc/install/10-fifo.toml', /is a FIFO/);

  const b = root();
  mkdirSync(join(b, 'etc'));
  fifo(join(b, 'usr/lib/os-release'));
  symlinkSync('../usr/lib/os-release', join(b, 'etc/os-release'));
  await refused(t, rootfsImageId(b), '/etc/os-release', /is a FIFO/);

  const c = root();
  fifo(join(c, 'usr/lib/modules/6.1.0-x/vmlinuz'));
  await refused(t, findKernel(c), '/usr/lib/modules/6.1.0-x/vmlinuz', /is a FIFO, expected a regular file/);
  await refused(t, checkSource({ kind: 'dir', path: c }), '/usr/lib/modules/6.1.0-x/vmlinuz', /is a FIFO/);
  const d = root();
  mkdirSync(join(d, 'usr/lib/modules/6.1.0-x'), { recursive: true });
  writeFileSync(join(d, 'usr/lib/modules/6.1.0-x/vmlinuz'), 'k');
  fifo(join(d, 'boot/initrd.img-6.1.0-x'));
  await refused(t, findKernel(d), '/boot/initrd.img-6.1.0-x', /is a FIFO/);
});

t.test('a character device (as /dev/null) where the harness writes or reads is refused', { skip: isRoot ? false : 'mknod needs root' }, async (t) => {
  const r = root();
  mknod(join(r, 'root/.ssh/authorized_keys'), 'c', 1, 3);
  await refused(t, writeFileInRoot(r, '/root/.ssh/authorized_keys', 'run key\n', 0o600), '/root/.ssh/authorized_keys', /is a character device/);
  mknod(join(r, 'usr/lib/modules/6.1.0-x/vmlinuz'), 'c', 1, 3);
  await refused(t, findKernel(r), '/usr/lib/modules/6.1.0-x/vmlinuz', /is a character device/);
  t.ok(lstatSync(join(r, 'root/.ssh/authorized_keys')).isCharacterDevice(), 'the node is left, never replaced or opened');
});

t.test('a block-device node aliasing a loop device over a host canary: refused, the canary byte-for-byte unchanged', { skip: isRoot && which('losetup') ? false : 'needs root and losetup' }, async (t) => {
  const canary = join(tmp, 'canary.img');
  writeFileSync(canary, Buffer.alloc(1 << 20, 0x5a));
  const before = sha(canary);
  const loop = execFileSync('losetup', ['--find', '--show', canary], { encoding: 'utf8' }).trim();
  t.teardown(() => execFileSync('losetup', ['-d', loop]));
  const [major, minor] = execFileSync('stat', ['-c', '%t %T', loop], { encoding: 'utf8' }).trim().split(' ').map((h) => parseInt(h, 16)) as [number, number];
  const r = root();
  for (const p of ['root/.ssh/authorized_keys', 'usr/lib/modules/6.1.0-x/vmlinuz', 'usr/lib/bootc/install/00-disk.toml', 'etc/os-release', 'var/tmp/bootc-harness-luks-setup.key']) mknod(join(r, p), 'b', major, minor);
  await refused(t, writeFileInRoot(r, '/root/.ssh/authorized_keys', 'run key\n', 0o600), '/root/.ssh/authorized_keys', /is a block device/);
  await refused(t, writeFileInRoot(r, '/var/tmp/bootc-harness-luks-setup.key', Buffer.alloc(64, 1), 0o600), '/var/tmp/bootc-harness-luks-setup.key', /is a block device/);
  await refused(t, findKernel(r), '/usr/lib/modules/6.1.0-x/vmlinuz', /is a block device/);
  await refused(t, readInstallConfigs(r), '/usr/lib/bootc/install/00-disk.toml', /is a block device/);
  await refused(t, rootfsImageId(r), '/etc/os-release', /is a block device/);
  await refused(t, copyFileOutOfRoot(r, '/usr/lib/modules/6.1.0-x/vmlinuz', join(tmp, `out${n++}`), 1 << 30), '/usr/lib/modules/6.1.0-x/vmlinuz', /is a block device/);
  t.equal(sha(canary), before, 'the file behind the loop device is byte-for-byte as it was');
});

t.test('presets and .wants linked to host files, directories and a host FIFO are read inside the image, never on the host', async (t) => {
  const host = join(tmp, `host${n++}`);
  mkdirSync(join(host, 'wants'), { recursive: true });
  writeFileSync(join(host, 'wants/host-only.service'), '');
  writeFileSync(join(host, 'evil.preset'), 'enable host-enabled.service\n');
  fifo(join(host, 'blocking.preset'));
  const r = root();
  const etc = join(r, 'etc/systemd/system');
  const presets = join(r, 'usr/lib/systemd/system-preset');
  mkdirSync(etc, { recursive: true });
  mkdirSync(presets, { recursive: true });
  mkdirSync(join(r, 'usr/lib/systemd/system'), { recursive: true });
  for (const u of ['host-enabled.service', 'image.service']) writeFileSync(join(r, 'usr/lib/systemd/system', u), '[Unit]\n');
  symlinkSync(join(host, 'wants'), join(etc, 'multi-user.target.wants'));
  symlinkSync(join(host, 'evil.preset'), join(presets, '10-evil.preset'));
  symlinkSync(join(host, 'blocking.preset'), join(presets, '20-blocking.preset'));
  writeFileSync(join(presets, '90-image.preset'), 'enable image.service\n');
  const units = await enabledUnits(r);
  t.notOk(units.has('host-only.service'), "the host directory's entries are not the image's");
  t.notOk(units.has('host-enabled.service'), "the host preset's rules are not the image's");
  t.ok(units.has('image.service'), "the image's own preset is read");
  t.ok(lstatSync(join(host, 'blocking.preset')).isFIFO(), 'the host FIFO was never opened (a reader would have blocked)');

  // The same links, now landing on a FIFO inside the image: refused with its path.
  mkdirSync(join(r, host), { recursive: true });
  fifo(join(r, host, 'blocking.preset'));
  await refused(t, enabledUnits(r), '/usr/lib/systemd/system-preset/20-blocking.preset', /is a FIFO/);
});

t.test("the setup key's directory swapped for a link to the host: the key is removed inside the image only", async (t) => {
  const host = join(tmp, `host${n++}`);
  mkdirSync(host);
  writeFileSync(join(host, 'bootc-harness-luks-setup.key'), 'HOST FILE');
  const r = root();
  mkdirSync(join(r, 'var'));
  symlinkSync(host, join(r, 'var/tmp')); // what a guest could do through the writable root share
  await removeFileInRoot(r, '/var/tmp/bootc-harness-luks-setup.key');
  t.equal(readFileSync(join(host, 'bootc-harness-luks-setup.key'), 'utf8'), 'HOST FILE', 'the host file is untouched');
  mkdirSync(join(r, host), { recursive: true });
  writeFileSync(join(r, host, 'bootc-harness-luks-setup.key'), 'key');
  await removeFileInRoot(r, '/var/tmp/bootc-harness-luks-setup.key');
  t.notOk(existsSync(join(r, host, 'bootc-harness-luks-setup.key')), 'the key where the link leads inside the image is gone');
});

t.test("device nodes in the image's /etc and /var are never recreated in the work dir", { skip: isRoot && which('tar') ? false : 'needs root (mknod) and tar' }, async (t) => {
  const r = root();
  mknod(join(r, 'var/lib/chroot/dev/null'), 'c', 1, 3);
  mknod(join(r, 'var/lib/chroot/dev/sda'), 'b', 8, 0);
  fifo(join(r, 'var/spool/pipe'));
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/hostname'), 'img\n');
  writeFileSync(join(r, 'var/lib/suid'), '');
  chmodSync(join(r, 'var/lib/suid'), 0o4755);
  symlinkSync('/etc/shadow', join(r, 'var/lib/link'));
  const stage = join(tmp, `stage${n++}`);
  mkdirSync(stage);
  const lines: string[] = [];
  const { skipped } = await copyTreesOut(r, [{ from: 'etc', to: join(stage, 'etc') }, { from: 'var', to: join(stage, 'var') }], stage, { stage: 'disk', log: (l) => lines.push(l) });
  t.same(skipped.sort(), ['/var/lib/chroot/dev/null', '/var/lib/chroot/dev/sda']);
  t.notOk(existsSync(join(stage, 'var/lib/chroot/dev/null')), 'no character device in the work dir');
  t.notOk(existsSync(join(stage, 'var/lib/chroot/dev/sda')), 'no block device in the work dir');
  t.ok(lstatSync(join(stage, 'var/lib/chroot/dev')).isDirectory(), 'their directory is copied');
  t.ok(lstatSync(join(stage, 'var/spool/pipe')).isFIFO(), 'a FIFO is copied as one (inert: never opened)');
  t.equal(lstatSync(join(stage, 'var/lib/suid')).mode & 0o7777, 0o4755, 'modes are kept, as cp -a kept them');
  t.ok(lstatSync(join(stage, 'var/lib/link')).isSymbolicLink(), 'links stay links');
  t.equal(readFileSync(join(stage, 'etc/hostname'), 'utf8'), 'img\n');
  t.equal(lines.length, 1, 'one line says so');
  t.match(lines[0], /2 device node\(s\) in the image left out/);
  t.same(
    ['.copy-list', '.copy.tar', '.copy-out'].filter((f) => existsSync(join(stage, f))),
    [],
    'no scratch left',
  );
});

t.test('the image mount is nodev,nosuid', { skip: isRoot && which('buildah') ? false : 'needs root and buildah' }, async (t) => {
  const td = new Teardown();
  try {
    const ctr = await mountedContainer('scratch', `bh-crafted-${process.pid}`, td);
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === ctr.mountpoint);
    t.ok(line, 'mounted');
    t.match(line!.split(' ')[5], /\bnodev\b/);
    t.match(line!.split(' ')[5], /\bnosuid\b/);
  } finally {
    await td.runOrThrow();
  }
});
