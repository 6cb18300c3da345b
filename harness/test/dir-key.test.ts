// A directory source's cache key: unchanged tree, same key; any change a test could see, another.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirImageKey, staleStatFs, treeIdentity, treeIdentityOf } from '../src/image/dir-key.js';
import { which } from '../src/util/tools.js';
import type { Manifest } from '../src/image/manifest.js';

function tree(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'bh-dirkey-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'usr/bin/tool'), 'v1');
  symlinkSync('/', join(root, 'host'));
  return root;
}

t.test('the same tree twice: the same identity', async (t) => {
  const root = tree(t);
  t.equal(treeIdentity(root), treeIdentity(root));
});

t.test('a changed file, mode, capability or a replaced file: another identity', async (t) => {
  const root = tree(t);
  const file = join(root, 'usr/bin/tool');
  let last = treeIdentity(root);
  const changed = (what: string) => {
    const now = treeIdentity(root);
    t.not(now, last, what);
    last = now;
  };
  writeFileSync(file, 'v2');
  changed('contents rewritten (size the same, mtime moved)');
  utimesSync(file, new Date(0), new Date(0));
  changed('only the mtime (and with it ctime)');
  chmodSync(file, 0o4755);
  changed('a SUID bit (ctime)');
  execFileSync('setcap', ['cap_net_raw+ep', file]);
  changed('a file capability (ctime)');
  rmSync(file);
  writeFileSync(file, 'v2');
  changed('the file replaced');
});

t.test('a link out of the tree is an entry, never followed', async (t) => {
  const root = tree(t);
  const outside = mkdtempSync(join(tmpdir(), 'bh-dirkey-outside-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  symlinkSync(outside, join(root, 'elsewhere'));
  const before = treeIdentity(root);
  writeFileSync(join(outside, 'host-file'), 'not the image');
  t.equal(treeIdentity(root), before, 'what the link points at outside the tree does not count');
});

t.test('the key hashes the manifest with the identity', async (t) => {
  const m = { entries: { '/usr/bin/tool': { mode: '0755' } } } as unknown as Manifest;
  const m2 = { entries: { '/usr/bin/tool': { mode: '4755' } } } as unknown as Manifest;
  t.match(dirImageKey(m, 'a'), /^[0-9a-f]{16}$/, 'a tag-safe key');
  t.equal(dirImageKey(m, 'a'), dirImageKey(m, 'a'));
  t.not(dirImageKey(m, 'a'), dirImageKey(m2, 'a'), 'the manifest counts');
  t.not(dirImageKey(m, 'a'), dirImageKey(m, 'b'), 'so does the identity');
});

t.test("the root directory's own mode and owner count", async (t) => {
  const root = tree(t);
  let last = treeIdentity(root);
  chmodSync(root, 0o777);
  t.not(treeIdentity(root), last, 'the root made world-writable');
  last = treeIdentity(root);
  chownSync(root, 1234, 1234);
  t.not(treeIdentity(root), last, 'the root given to another owner');
});

t.test('file systems whose stat fields can be stale are named; a local one is not', async (t) => {
  t.equal(staleStatFs(0x6969), 'NFS');
  t.equal(staleStatFs(0x01021997), '9p');
  t.match(staleStatFs(0x65735546), /FUSE \(virtiofs/);
  t.equal(staleStatFs(0xef53), undefined, 'ext4');
  t.equal(staleStatFs(0x01021994), undefined, 'tmpfs');
  const root = tree(t);
  t.equal(treeIdentityOf(root).staleFs, undefined, `${root} is local (statfs f_type ${statfsSync(root).type.toString(16)})`);
});

/** prepareImage's dir case with packaging replaced by `pkg` (buildah is not what is under test here). */
async function prepareWith(t: Test, cache: string, pkg: (rootfs: string) => void, identity?: (root: string) => { identity: string; staleFs?: string }) {
  const removed: string[] = [];
  const { prepareImage } = await t.mockImport<typeof import('../src/image/prepare.js')>('../src/image/prepare.js', {
    '../src/image/package.ts': {
      packageRootfs: async (rootfs: string, ref: string) => (pkg(rootfs), { ref, id: 'f'.repeat(64), digest: undefined, sourceManifest: {} }),
      manifestOfImage: async () => ({}),
    },
    '../src/image/buildah.ts': {
      imageId: async () => undefined,
      imageDigest: async () => undefined,
      imagesOf: async () => [],
      removeImage: async (r: string) => void removed.push(r),
      importImage: async () => undefined,
    },
    ...(identity ? { '../src/image/dir-key.ts': { ...(await import('../src/image/dir-key.js')), treeIdentityOf: identity } } : {}),
  });
  process.env.BOOTC_HARNESS_CACHE = cache;
  const own: string[] = [];
  const lines: string[] = [];
  const root = tree(t);
  // No real buildah may run here: PATH holds only the manifest's tools, so a mock that did not take fails loudly.
  const bin = mkdtempSync(join(tmpdir(), 'bh-dirkey-bin-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  // getfattr and getcap run sandboxed: bwrap, setpriv and prlimit too.
  for (const tool of ['getfattr', 'getcap', 'bwrap', 'setpriv', 'prlimit']) symlinkSync(which(tool)!, join(bin, tool));
  const path = process.env.PATH;
  process.env.PATH = bin;
  let image;
  try {
    image = await prepareImage({ kind: 'dir', path: root }, undefined, 'RUN1', new AbortController().signal, (id) => own.push(id), (l) => lines.push(l));
  } finally {
    process.env.PATH = path;
  }
  return { image, own, lines, removed, records: existsSync(join(cache, 'dir-images')) ? readdirSync(join(cache, 'dir-images')) : [] };
}

t.test('a tree changed while it is packaged is not cached: one line says so, the image is the run\'s own', { skip: which('getfattr') && which('getcap') ? false : 'needs getfattr and getcap (the manifest)' }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'bh-dirkey-cache-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const changed = await prepareWith(t, cache, (rootfs) => writeFileSync(join(rootfs, 'usr/bin/tool'), 'edited during the copy'));
  t.equal(changed.image.cached, false);
  t.same(changed.own, ['f'.repeat(64)], 'removed with the run');
  t.same(changed.records, [], 'no cache record written');
  t.equal(changed.lines.length, 1);
  t.match(changed.lines[0], /changed while it was packaged: its image is used for this run only and not cached/);

  const steady = await prepareWith(t, cache, () => {});
  t.same(steady.own, [], 'an unchanged tree is cached');
  t.equal(steady.records.length, 1, 'its record written');
  t.same(steady.lines, []);
});

t.test('a tree on a file system with stale stat fields skips the cache with one line', { skip: which('getfattr') && which('getcap') ? false : 'needs getfattr and getcap (the manifest)' }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'bh-dirkey-cache-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const r = await prepareWith(t, cache, () => {}, () => ({ identity: 'x', staleFs: 'NFS' }));
  t.equal(r.image.cached, false);
  t.match(r.image.ref, /:run-run1$/, 'a run-only tag, never the content key');
  t.same(r.own, ['f'.repeat(64)]);
  t.same(r.records, []);
  t.equal(r.lines.length, 1);
  t.match(r.lines[0], /is \(partly\) on NFS, whose stat fields can be stale: its image is packaged for this run and not cached/);
});
