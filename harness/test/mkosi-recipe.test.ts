// A fixture built by mkosi: its directory is the configuration, the harness adds the release,
// the mirror (as a local mirror: no debug or security suite added) and where the tree goes;
// the cache key covers every file mkosi reads, executable bits included.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipe, recipeHash } from '../src/rootfs-builder/recipe.js';
import { mkosiArgs, mkosiInputs, mkosiMajor, MKOSI_MIN_MAJOR } from '../src/rootfs-builder/mkosi-recipe.js';

const dir = mkdtempSync(join(tmpdir(), 'bh-mkosi-recipe-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const MIRROR = 'http://deb.debian.org/debian';

t.test('the real snow-mkosi recipe: built by mkosi from trixie; its derived broken twin starts from it', async (t) => {
  const r = loadRecipe('snow-mkosi');
  t.equal(r.builder, 'mkosi');
  t.equal(r.suite, 'trixie');
  t.same(r.include, [], 'packages are in mkosi.conf, not the recipe');
  const b = loadRecipe('broken-firstboot');
  t.equal(b.base, 'snow-mkosi');
  t.equal(b.builder, undefined, 'a derived fixture is made by its hooks on a copy');
  t.not(recipeHash(b, MIRROR), recipeHash(r, MIRROR));
  t.notOk('builder' in loadRecipe('trixie'), "an mmdebstrap recipe's object (and so its cache key) is as before");
});

t.test('mkosiArgs: the release, a local mirror, a directory output named rootfs', async (t) => {
  const a = mkosiArgs({ configDir: '/src/fixtures/snow-mkosi', suite: 'trixie', mirror: MIRROR, outDir: '/cache/x.tmp', workspaceDir: '/cache/x.tmp/workspace', packageCacheDir: '/cache/mkosi-packages' });
  t.equal(a[0], 'mkosi');
  t.equal(a.at(-1), 'build', 'the verb last');
  t.ok(a.includes('--directory=/src/fixtures/snow-mkosi'), "the fixture's own mkosi.conf");
  t.ok(a.includes('--release=trixie'), "the recipe's suite");
  t.ok(a.includes(`--local-mirror=${MIRROR}`), 'the mirror as the only source');
  t.notOk(a.some((x) => x.startsWith('--mirror')), 'not --mirror, which adds the debug and security suites');
  t.ok(a.includes('--format=directory') && a.includes('--output=rootfs') && a.includes('--output-dir=/cache/x.tmp'), 'a directory tree at <out>/rootfs, as mmdebstrap writes it');
  t.ok(a.includes('--force'), 'a leftover output never stops a rebuild');
  t.throws(() => mkosiArgs({ configDir: '/a b', suite: 'trixie', mirror: MIRROR, outDir: '/o', workspaceDir: '/w', packageCacheDir: '/p' }), /must be a plain absolute path/);
});

t.test('mkosiMajor reads `mkosi --version`; bookworm\'s 14 is too old', async (t) => {
  t.equal(mkosiMajor('mkosi 24.3\n'), 24);
  t.equal(mkosiMajor('mkosi 14'), 14);
  t.ok(14 < MKOSI_MIN_MAJOR && 24 >= MKOSI_MIN_MAJOR);
  t.equal(mkosiMajor('something else'), undefined);
});

t.test('mkosiInputs: every file with its mode, links as links, in a stable order', async (t) => {
  const d = join(dir, 'inputs');
  mkdirSync(join(d, 'mkosi.extra/etc'), { recursive: true });
  writeFileSync(join(d, 'mkosi.conf'), '[Output]\nFormat=directory\n');
  writeFileSync(join(d, 'mkosi.extra/etc/locale.conf'), 'LANG=en_US.UTF-8\n');
  writeFileSync(join(d, 'mkosi.postinst.chroot'), '#!/bin/sh\n');
  chmodSync(join(d, 'mkosi.postinst.chroot'), 0o644);
  const before = mkosiInputs(d);
  t.same(before.map(([k]) => k), ['mkosi.conf 644', 'mkosi.extra/etc/locale.conf 644', 'mkosi.postinst.chroot 644']);
  chmodSync(join(d, 'mkosi.postinst.chroot'), 0o755);
  t.not(JSON.stringify(mkosiInputs(d).map(([k]) => k)), JSON.stringify(before.map(([k]) => k)), 'an executable bit (mkosi runs the script only then) changes the inputs');
});

t.test('an mkosi recipe is refused when it says what belongs in mkosi.conf, or has none', async (t) => {
  const write = (name: string, recipe: unknown, conf = true) => {
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'recipe.json'), JSON.stringify(recipe));
    if (conf) writeFileSync(join(dir, name, 'mkosi.conf'), '[Output]\nFormat=directory\n');
  };
  write('m-include', { builder: 'mkosi', suite: 'trixie', include: ['sudo'] });
  t.throws(() => loadRecipe('m-include', dir), { message: /says its packages and scripts in its mkosi\.conf/ });
  write('m-noconf', { builder: 'mkosi', suite: 'trixie' }, false);
  t.throws(() => loadRecipe('m-noconf', dir), { message: /needs a mkosi\.conf beside recipe\.json/ });
  write('m-bad', { builder: 'kiwi', suite: 'trixie' });
  t.throws(() => loadRecipe('m-bad', dir), { message: /builder must be "mmdebstrap" or "mkosi"/ });
  write('m-ok', { builder: 'mkosi', suite: 'trixie' });
  t.equal(loadRecipe('m-ok', dir).builder, 'mkosi');
});
