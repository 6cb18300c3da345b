// A directory source's cache key: unchanged tree, same key; any change a test could see, another.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirImageKey, treeIdentity } from '../src/image/dir-key.js';
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
