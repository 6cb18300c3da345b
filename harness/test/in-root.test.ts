// Paths inside an untrusted image resolve inside it, whatever its links say: crafted
// trees with absolute and relative links, ".." chains, loops and a link in each
// component; writes through them leave the host byte-for-byte as it was.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chmodDirInRoot, mkdirInRoot, OutsideRoot, resolveInRoot, writeFileInRoot } from '../src/image/in-root.js';
import { findKernel } from '../src/image/kernel.js';
import { rootHomeInVar } from '../src/install/composefs-layout.js';

const tmp = mkdtempSync(join(tmpdir(), 'bh-in-root-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A fresh image root beside a "host" directory holding a file the image must not reach. */
function crafted() {
  const base = join(tmp, `case${n++}`);
  const root = join(base, 'image');
  const host = join(base, 'host');
  mkdirSync(root, { recursive: true });
  mkdirSync(join(host, '.ssh'), { recursive: true });
  writeFileSync(join(host, '.ssh/authorized_keys'), 'host key\n', { mode: 0o644 });
  writeFileSync(join(host, 'vmlinuz'), 'HOST KERNEL');
  return { root, host };
}

/** Every file under `dir` with its bytes and mode: "byte-for-byte untouched" made checkable. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      out[p] = `${st.mode.toString(8)} ${e.isDirectory() ? 'dir' : readFileSync(p, 'hex')}`;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

t.test('absolute links resolve against the image root, never the host', async (t) => {
  const { root, host } = crafted();
  symlinkSync(host, join(root, 'root')); // /root -> /…/host (an absolute host path)
  t.equal(resolveInRoot(root, '/root/.ssh/authorized_keys'), join(root, host, '.ssh/authorized_keys'), 'the host path is read as a path inside the image');
});

t.test('relative links and ".." chains stop at the image root', async (t) => {
  const { root } = crafted();
  mkdirSync(join(root, 'var'), { recursive: true });
  symlinkSync('../../../../../../etc', join(root, 'var/etc-up'));
  t.equal(resolveInRoot(root, '/var/etc-up/passwd'), join(root, 'etc/passwd'));
  t.equal(resolveInRoot(root, '/../../../etc/shadow'), join(root, 'etc/shadow'));
  t.equal(resolveInRoot(root, 'usr/../../..'), root);
});

t.test('a link in every component is followed inside the image', async (t) => {
  const { root } = crafted();
  mkdirSync(join(root, 'real/b/c'), { recursive: true });
  symlinkSync('/real', join(root, 'a'));
  symlinkSync('b', join(root, 'real/bb'));
  symlinkSync('/real/b/c', join(root, 'real/b/cc'));
  symlinkSync('../../../../x', join(root, 'real/b/c/d'));
  t.equal(resolveInRoot(root, '/a/bb/cc/d'), join(root, 'x'));
  t.equal(resolveInRoot(root, '/a/bb/cc/d', { followFinal: false }), join(root, 'real/b/c/d'), 'a final link can be left alone');
});

t.test('a link loop is refused, not followed forever', async (t) => {
  const { root } = crafted();
  symlinkSync('/loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  t.throws(() => resolveInRoot(root, '/loop1/x'), OutsideRoot);
  t.throws(() => resolveInRoot(root, '/loop1/x'), /too many levels of symbolic links/);
});

t.test('writing root\'s key through links that point at the host writes inside the image; the host is untouched', async (t) => {
  for (const [what, link] of [
    ['/root absolute', (root: string, host: string) => symlinkSync(host, join(root, 'root'))],
    ['/root relative up', (root: string, host: string) => symlinkSync(`../../../../../../../..${host}`, join(root, 'root'))],
    ['/root/.ssh', (root: string, host: string) => (mkdirSync(join(root, 'root')), symlinkSync(join(host, '.ssh'), join(root, 'root/.ssh')))],
  ] as const) {
    const { root, host } = crafted();
    link(root, host);
    const before = snapshot(host);
    mkdirInRoot(root, '/root/.ssh', 0o700);
    chmodDirInRoot(root, '/root/.ssh', 0o700);
    const written = writeFileInRoot(root, '/root/.ssh/authorized_keys', 'run key\n', 0o600);
    t.ok(written.startsWith(root + '/'), `${what}: written inside the image (${written})`);
    t.equal(readFileSync(written, 'utf8'), 'run key\n');
    t.same(snapshot(host), before, `${what}: the host directory is byte-for-byte as it was`);
  }
});

t.test('a key file that is itself a link is refused, never written through', async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'root/.ssh'), { recursive: true });
  // A relative link that stays in the image: still not written through (O_NOFOLLOW).
  symlinkSync('../../etc/shadow', join(root, 'root/.ssh/authorized_keys'));
  const before = snapshot(host);
  t.throws(() => writeFileInRoot(root, '/root/.ssh/authorized_keys', 'run key\n', 0o600), /is a symlink: refusing to write through it/);
  t.same(snapshot(host), before);
});

t.test('the kernel, the initrd and the loader are read from the image even when its links point at host paths', async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'usr/lib/modules/6.12.0-test'), { recursive: true });
  mkdirSync(join(root, 'boot'), { recursive: true });
  // Debian's layout, with links an attacker aimed at the host's files.
  symlinkSync(join(host, 'vmlinuz'), join(root, 'boot/vmlinuz-6.12.0-test'));
  symlinkSync(join(host, 'vmlinuz'), join(root, 'boot/initrd.img-6.12.0-test'));
  t.equal(findKernel(root), undefined, 'no kernel inside the image: none found (the host\'s is not taken)');
  mkdirSync(join(root, host), { recursive: true });
  writeFileSync(join(root, host, 'vmlinuz'), 'IMAGE KERNEL');
  const k = findKernel(root)!;
  t.equal(readFileSync(k.vmlinuz, 'utf8'), 'IMAGE KERNEL', 'the link is followed inside the image');
  t.ok(k.vmlinuz.startsWith(root + '/') && k.initrd!.startsWith(root + '/'));
});

t.test("composefs: root's home is found by following /root inside the image, and must be under /var", async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'var/roothome'), { recursive: true });
  symlinkSync('var/roothome', join(root, 'root'));
  t.equal(rootHomeInVar(root), 'roothome');
  const evil = crafted();
  symlinkSync(join(evil.host, '..', '..', 'var', 'x'), join(evil.root, 'root'));
  t.throws(() => rootHomeInVar(evil.root), /is not under \/var/, 'a host path that happens to contain /var is a path inside the image, and not under its /var');
  void host;
});
