// Fixture recipes: read and validated, turned into an mmdebstrap command line, hashed for the cache.
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { listFixtures, loadRecipe, mmdebstrapArgs, recipeHash, type Recipe } from '../src/rootfs-builder/recipe.js';
import { FIXTURES_DIR } from '../src/util/paths.js';
import { freshDirs } from './helpers/fresh-dir.js';

const freshDir = freshDirs(t, 'bootc-harness-recipe-test-');

const MIRROR = 'http://deb.debian.org/debian';

t.test('loadRecipe(trixie) reads the real recipe', async (t) => {
  const r = loadRecipe('trixie');
  t.equal(r.name, 'trixie');
  t.equal(r.suite, 'trixie');
  t.same(r.components, ['main']);
  t.equal(r.variant, 'apt');
  for (const p of ['linux-image-amd64', 'systemd', 'openssh-server', 'sudo', 'iputils-ping']) t.ok(r.include.includes(p), `includes ${p}`);
  t.same(r.hooks, [join(FIXTURES_DIR, 'common/base.sh'), join(FIXTURES_DIR, 'common/composefs-root.sh')], 'hooks resolved against the recipe directory');
  t.ok(existsSync(r.hooks[0]!), 'the hook exists');
  t.same(r.files['/usr/bin/ping'], { caps: 'cap_net_raw=ep' });
  t.same(r.files['/usr/bin/sudo'], { mode: '4755' });
  t.same(r.extraSuites, ['sid'], 'sid for composefs alone (its composefs row shares this rootfs)');
  t.ok(listFixtures().includes('trixie'));
  t.notOk(listFixtures().includes('common'), 'a directory without recipe.json is not a fixture');
});

t.test('mmdebstrapArgs builds the bootstrap command line', async (t) => {
  const r = loadRecipe('trixie');
  const a = mmdebstrapArgs(r, MIRROR, '/var/cache/bootc-harness/fixtures/trixie.tmp', { keyring: null });
  t.equal(a[0], 'mmdebstrap');
  t.ok(a.includes('--mode=root'));
  t.ok(a.includes('--format=directory'));
  t.ok(a.includes('--variant=apt'));
  t.ok(a.includes('--components=main'));
  t.ok(a.includes(`--include=${r.include.join(',')}`), 'every package in one --include');
  t.ok(a.includes(`--customize-hook=${join(FIXTURES_DIR, 'common/base.sh')}`), 'the recipe hook');
  t.ok(a.includes('--customize-hook=setcap cap_net_raw=ep "$1/usr/bin/ping"'), 'ping gets its capability');
  t.ok(a.includes('--customize-hook=chmod 4755 "$1/usr/bin/sudo"'), 'sudo gets its mode');
  const hooks = a.filter((x) => x.startsWith('--customize-hook='));
  t.ok(
    hooks.indexOf(`--customize-hook=${join(FIXTURES_DIR, 'common/base.sh')}`) < hooks.indexOf('--customize-hook=setcap cap_net_raw=ep "$1/usr/bin/ping"'),
    'file bits are set after the recipe hooks',
  );
  // Positionals come last: suite, target, then the apt sources.
  t.same(a.slice(-4), ['trixie', '/var/cache/bootc-harness/fixtures/trixie.tmp', `deb ${MIRROR} trixie main`, `deb [check-valid-until=no] ${MIRROR} sid main`]);
  t.notOk(a.slice(0, -4).some((x) => !x.startsWith('-') && x !== 'mmdebstrap'), 'everything before the positionals is an option');

  const withExtra: Recipe = { ...r, components: ['main', 'contrib'], extraSuites: ['trixie-backports'], include: [], hooks: [], files: {} };
  const b = mmdebstrapArgs(withExtra, MIRROR, '/t', { keyring: null });
  t.ok(b.includes('--components=main,contrib'), 'every component the recipe names');
  t.ok(b.includes('--aptopt=APT::Default-Release "trixie"'), 'extra suites never win by version alone');
  t.ok(b.includes('--dpkgopt=force-unsafe-io'), 'a build that dies is discarded whole: dpkg need not fsync');
  t.notOk(b.some((x) => x.startsWith('--include=') || x.startsWith('--customize-hook=')), 'nothing to include, no hooks');
  const suiteAt = b.indexOf('trixie');
  t.same(b.slice(suiteAt, suiteAt + 2), ['trixie', '/t'], 'the suite, then the target');
  t.same(b.slice(suiteAt + 2), [`deb ${MIRROR} trixie main contrib`, `deb ${MIRROR} trixie-backports main contrib`], 'then a source per suite, the recipe\'s first');
});

t.test('loadRecipe rejects unknown and unsafe fixtures', async (t) => {
  t.throws(() => loadRecipe('nope'), UsageError);
  t.throws(() => loadRecipe('nope'), { message: /^unknown fixture "nope" \(known: (.*, )?trixie(, .*)?\)$/ }, 'lists the known fixtures');
  t.throws(() => loadRecipe('../trixie'), { message: /^unknown fixture "\.\.\/trixie"/ }, 'no path traversal');
  t.throws(() => loadRecipe('common'), { message: /^unknown fixture "common"/ }, 'a directory without recipe.json');

  // Recipes whose values end up in shell hooks are validated.
  const dir = freshDir();
  const write = (name: string, recipe: unknown) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'recipe.json'), typeof recipe === 'string' ? recipe : JSON.stringify(recipe));
  };
  write('good', { suite: 'bookworm', include: ['systemd'] });
  write('badcaps', { suite: 'trixie', files: { '/usr/bin/ping': { caps: 'cap_net_raw=ep; rm -rf /' } } });
  write('badpath', { suite: 'trixie', files: { '/usr/bin/p"ing': { mode: '4755' } } });
  write('badmode', { suite: 'trixie', files: { '/usr/bin/sudo': { mode: 'u+s' } } });
  write('badsuite', { suite: 'trixie main' });
  write('badinclude', { suite: 'trixie', include: ['ok', 'evil,pkg'] });
  write('badhook', { suite: 'trixie', hooks: ['missing.sh'] });
  write('badjson', '{ not json');
  const g = loadRecipe('good', dir);
  t.same([g.suite, g.components, g.variant, g.include, g.extraSuites, g.hooks, g.files, g.kargs, g.root], ['bookworm', ['main'], 'apt', ['systemd'], [], [], {}, [], 'plain'], 'defaults');
  write('badroot', { suite: 'trixie', root: 'btrfs' });
  t.throws(() => loadRecipe('badroot', dir), { message: /root must be "plain" or "composefs", found "btrfs"/ });
  t.throws(() => loadRecipe('badcaps', dir), { message: /caps must look like cap_net_raw=ep/ });
  t.throws(() => loadRecipe('badpath', dir), { message: /must be an absolute path/ });
  t.throws(() => loadRecipe('badmode', dir), { message: /mode must be octal/ });
  t.throws(() => loadRecipe('badsuite', dir), { message: /suite must be a Debian suite name/ });
  t.throws(() => loadRecipe('badinclude', dir), { message: /include must be a list of package-like words/ });
  t.throws(() => loadRecipe('badhook', dir), { message: /hook .*missing\.sh does not exist/ });
  t.throws(() => loadRecipe('badjson', dir), { message: /recipe\.json is not valid JSON/ });
  t.throws(() => loadRecipe('nope', dir), { message: /known: badcaps, badhook, badinclude, badjson, badmode, badpath, badroot, badsuite, good\)$/ }, 'known list is sorted');
});

t.test('recipeHash: stable, and changes with the mirror and the recipe', async (t) => {
  const r = loadRecipe('trixie');
  const h = recipeHash(r, MIRROR);
  t.match(h, /^[0-9a-f]{16}$/);
  t.equal(recipeHash(loadRecipe('trixie'), MIRROR), h, 'same inputs, same hash');
  t.not(recipeHash(r, 'http://ftp.de.debian.org/debian'), h, 'another mirror, another hash');
  t.not(recipeHash({ ...r, include: [...r.include, 'vim'] }, MIRROR), h, 'another package list, another hash');
  t.not(recipeHash({ ...r, files: { ...r.files, '/usr/bin/ping': { caps: 'cap_net_admin=ep' } } }, MIRROR), h, 'other file bits, another hash');
});
