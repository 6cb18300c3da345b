// Paths inside an untrusted image resolve inside it, whatever its links say: crafted
// trees with absolute and relative links, ".." chains, loops and a link in each
// component; writes through them leave the host byte-for-byte as it was.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chmodDirInRoot, mkdirInRoot, OutsideRoot, readTextInRoot, whereInRoot, writeFileInRoot } from '../src/image/in-root.js';
import { copyKernelOut, findKernel } from '../src/image/kernel.js';
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
  mkdirSync(join(root, host, '.ssh'), { recursive: true });
  writeFileSync(join(root, host, '.ssh/authorized_keys'), 'image key\n');
  t.equal(await whereInRoot(root, '/root/.ssh/authorized_keys'), `${host}/.ssh/authorized_keys`, 'the host path is read as a path inside the image');
  t.equal(await readTextInRoot(root, '/root/.ssh/authorized_keys'), 'image key\n', 'and what is read is the image\'s file');
});

t.test('relative links and ".." chains stop at the image root', async (t) => {
  const { root } = crafted();
  mkdirSync(join(root, 'var'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'image\n');
  writeFileSync(join(root, 'etc/shadow'), 'image\n');
  symlinkSync('../../../../../../etc', join(root, 'var/etc-up'));
  t.equal(await whereInRoot(root, '/var/etc-up/passwd'), '/etc/passwd');
  t.equal(await whereInRoot(root, '/../../../etc/shadow'), '/etc/shadow');
  t.equal(await whereInRoot(root, 'usr/../../..'), '/');
});

t.test('a link in every component is followed inside the image', async (t) => {
  const { root } = crafted();
  mkdirSync(join(root, 'real/b/c'), { recursive: true });
  symlinkSync('/real', join(root, 'a'));
  symlinkSync('b', join(root, 'real/bb'));
  symlinkSync('/real/b/c', join(root, 'real/b/cc'));
  symlinkSync('../../../../x', join(root, 'real/b/c/d'));
  writeFileSync(join(root, 'x'), '');
  t.equal(await whereInRoot(root, '/a/bb/cc/d'), '/x');
  t.equal(await whereInRoot(root, '/a/bb/cc/d', { followFinal: false }), '/real/b/c/d', 'a final link can be left alone');
});

t.test('a link loop is refused, not followed forever', async (t) => {
  const { root } = crafted();
  symlinkSync('/loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  await t.rejects(whereInRoot(root, '/loop1/x'), OutsideRoot);
  await t.rejects(whereInRoot(root, '/loop1/x'), /too many levels of symbolic links/);
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
    await mkdirInRoot(root, '/root/.ssh', 0o700);
    await chmodDirInRoot(root, '/root/.ssh', 0o700);
    await writeFileInRoot(root, '/root/.ssh/authorized_keys', 'run key\n', 0o600);
    const written = (await whereInRoot(root, '/root/.ssh/authorized_keys'))!;
    t.ok(statSync(join(root, written)).isFile(), `${what}: written inside the image (${written})`);
    t.equal(readFileSync(join(root, written), 'utf8'), 'run key\n');
    t.equal(statSync(join(root, written)).mode & 0o777, 0o600, 'with the mode asked for');
    t.same(snapshot(host), before, `${what}: the host directory is byte-for-byte as it was`);
  }
});

t.test('a key file that is itself a link is refused, never written through', async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'root/.ssh'), { recursive: true });
  // A relative link that stays in the image: still not written through (O_NOFOLLOW).
  symlinkSync('../../etc/shadow', join(root, 'root/.ssh/authorized_keys'));
  const before = snapshot(host);
  await t.rejects(writeFileInRoot(root, '/root/.ssh/authorized_keys', 'run key\n', 0o600), /authorized_keys in the image is a symlink, expected a regular file: refusing to write it/);
  t.same(snapshot(host), before);
});

t.test('the kernel, the initrd and the loader are read from the image even when its links point at host paths', async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'usr/lib/modules/6.12.0-test'), { recursive: true });
  mkdirSync(join(root, 'boot'), { recursive: true });
  // Debian's layout, with links an attacker aimed at the host's files.
  symlinkSync(join(host, 'vmlinuz'), join(root, 'boot/vmlinuz-6.12.0-test'));
  symlinkSync(join(host, 'vmlinuz'), join(root, 'boot/initrd.img-6.12.0-test'));
  t.equal(await findKernel(root), undefined, 'no kernel inside the image: none found (the host\'s is not taken)');
  mkdirSync(join(root, host), { recursive: true });
  writeFileSync(join(root, host, 'vmlinuz'), 'IMAGE KERNEL');
  const k = (await findKernel(root))!;
  const out = join(tmp, `kernel-out-${n++}`);
  mkdirSync(out);
  const copies = await copyKernelOut(root, k, out);
  t.equal(readFileSync(copies.vmlinuz, 'utf8'), 'IMAGE KERNEL', 'the link is followed inside the image; the copy is what tools read');
  t.equal(readFileSync(copies.initrd!, 'utf8'), 'IMAGE KERNEL');
});

t.test("composefs: root's home is found by following /root inside the image, and must be under /var", async (t) => {
  const { root, host } = crafted();
  mkdirSync(join(root, 'var/roothome'), { recursive: true });
  symlinkSync('var/roothome', join(root, 'root'));
  t.equal(await rootHomeInVar(root), 'roothome');
  const evil = crafted();
  symlinkSync(join(evil.host, '..', '..', 'var', 'x'), join(evil.root, 'root'));
  await t.rejects(rootHomeInVar(evil.root), /is not under \/var/, 'a host path that happens to contain /var is a path inside the image, and not under its /var');
  void host;
});
