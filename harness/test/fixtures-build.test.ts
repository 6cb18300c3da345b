// Fixture builds: the shared package cache, budgets, concurrent scheduling and the
// lock that keeps two processes from building the same recipe.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEB_CACHE_HOOK, DEBIAN_KEYRINGS, DEFAULT_BUILD_BUDGET_MIN, DKMS_CACHE_HOOK, loadRecipe, mmdebstrapArgs, recipeHash, usesDkms, type Recipe } from '../src/rootfs-builder/recipe.js';
import { defaultFixtureJobs, fixtureTable, withBases } from '../src/rootfs-builder/build-many.js';
import { withLock } from '../src/util/lock.js';
import { mountsBelow, removeTree } from '../src/util/remove-tree.js';
import { mmdebstrapStep } from '../src/rootfs-builder/build.js';

const MIRROR = 'http://deb.example.org/debian';
const tmp = mkdtempSync(join(tmpdir(), 'bh-fixtures-test-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('with a package cache, mmdebstrap links packages in before it downloads and out before the recipe hooks run', async (t) => {
  const r = loadRecipe('trixie');
  const a = mmdebstrapArgs(r, MIRROR, '/t', { debCache: '/var/cache/bootc-harness/debs' });
  const setup = a.find((x) => x.startsWith('--setup-hook='));
  t.equal(setup, `--setup-hook=${DEB_CACHE_HOOK} in /var/cache/bootc-harness/debs "$1"`, 'cached packages are put where apt looks first');
  t.ok(a.includes('--skip=essential/unlink'), 'the essential step must not delete linked (shared) packages');
  const customize = a.filter((x) => x.startsWith('--customize-hook='));
  t.equal(customize[0], `--customize-hook=${DEB_CACHE_HOOK} out /var/cache/bootc-harness/debs "$1"`, 'downloads are kept even when a recipe hook then fails');
  t.notOk(a.some((x) => x.startsWith('--skip=cleanup')), 'the image is cleaned as usual: no packages left inside it');
  const plain = mmdebstrapArgs(r, MIRROR, '/t');
  t.notOk(plain.some((x) => x.includes(DEB_CACHE_HOOK) || x === '--skip=essential/unlink'), 'no cache, no hooks');
  t.throws(() => mmdebstrapArgs(r, MIRROR, '/t', { debCache: '/tmp/x" ; rm -rf /' }), /plain absolute path/, 'the cache path goes into a shell hook: only plain paths');
});

t.test('mmdebstrap sources name the Debian archive keyring they are signed by, where the host has it', async (t) => {
  // An Ubuntu host's apt trusts only Ubuntu's keys; its debian-archive-keyring fills /usr/share/keyrings alone.
  const r: Recipe = { ...loadRecipe('trixie'), extraSuites: ['trixie-backports', 'sid'] };
  const key = '/usr/share/keyrings/debian-archive-keyring.gpg';
  t.same(mmdebstrapArgs(r, MIRROR, '/t', { keyring: key }).slice(-3), [
    `deb [signed-by=${key}] ${MIRROR} trixie main`,
    `deb [signed-by=${key}] ${MIRROR} trixie-backports main`,
    `deb [signed-by=${key} check-valid-until=no] ${MIRROR} sid main`,
  ]);
  t.same(mmdebstrapArgs(r, MIRROR, '/t', { keyring: null }).slice(-3), [`deb ${MIRROR} trixie main`, `deb ${MIRROR} trixie-backports main`, `deb [check-valid-until=no] ${MIRROR} sid main`], 'no keyring: the lines as before');
  // Left out: the host's own, the first of the names the package has used that exists here.
  const host = DEBIAN_KEYRINGS.find((k) => existsSync(k));
  t.equal(mmdebstrapArgs(r, MIRROR, '/t').at(-3), host ? `deb [signed-by=${host}] ${MIRROR} trixie main` : `deb ${MIRROR} trixie main`, `this host: ${host ?? 'no Debian keyring'}`);
  t.throws(() => mmdebstrapArgs(r, MIRROR, '/t', { keyring: '/k] http://evil' }), /plain absolute path/, 'the path goes inside the source line');
});

t.test('the cache hook links packages both ways and never leaves a partial file under a package name', async (t) => {
  const cache = join(tmp, 'cache');
  const root = join(tmp, 'root');
  mkdirSync(join(root, 'var/cache/apt/archives'), { recursive: true });
  mkdirSync(cache);
  writeFileSync(join(cache, 'a_1_amd64.deb'), 'A');
  execFileSync(DEB_CACHE_HOOK, ['in', cache, root]);
  const linked = join(root, 'var/cache/apt/archives/a_1_amd64.deb');
  t.equal(readFileSync(linked, 'utf8'), 'A');
  t.equal(statSync(linked).ino, statSync(join(cache, 'a_1_amd64.deb')).ino, 'a hard link, not a copy');
  writeFileSync(join(root, 'var/cache/apt/archives/b_2_amd64.deb'), 'B');
  execFileSync(DEB_CACHE_HOOK, ['out', cache, root]);
  t.same(readdirSync(cache).sort(), ['a_1_amd64.deb', 'b_2_amd64.deb'], 'the new package joined the cache, no temporary names left');
  t.equal(readFileSync(join(cache, 'b_2_amd64.deb'), 'utf8'), 'B');
});

t.test('a recipe build budget: whole minutes, a default, and not part of the cache key', async (t) => {
  const r = loadRecipe('trixie');
  t.equal(r.buildBudgetMin, DEFAULT_BUILD_BUDGET_MIN);
  t.ok(loadRecipe('zfs').buildBudgetMin > DEFAULT_BUILD_BUDGET_MIN, 'zfs compiles a module with DKMS: it has a larger budget');
  const longer: Recipe = { ...r, buildBudgetMin: 90 };
  t.equal(recipeHash(longer, MIRROR), recipeHash(r, MIRROR), 'changing how long a build may take does not rebuild it');
  const dir = join(tmp, 'recipes');
  mkdirSync(join(dir, 'slow'), { recursive: true });
  writeFileSync(join(dir, 'slow/recipe.json'), JSON.stringify({ suite: 'trixie', buildBudgetMin: 0 }));
  t.throws(() => loadRecipe('slow', dir), /buildBudgetMin must be a whole number of minutes/);
});

t.test('bases come before what derives from them, each once', async (t) => {
  const base: Record<string, string | undefined> = { 'broken-a': 'trixie', 'broken-b': 'trixie', trixie: undefined, zfs: undefined };
  t.same(withBases(['broken-a', 'zfs', 'broken-b'], (n) => base[n]), ['trixie', 'broken-a', 'zfs', 'broken-b']);
  const real = withBases(['broken-panic'], (n) => loadRecipe(n).base);
  t.same(real, ['trixie', 'broken-panic'], 'the real broken fixtures derive from trixie');
});

t.test('default concurrency follows cores and memory, within bounds', async (t) => {
  t.equal(defaultFixtureJobs(2, 24), 3, 'one more build than cores: builds wait on the mirror and on disk as much as on a core');
  t.equal(defaultFixtureJobs(2, 3), 1, 'about 2 GiB per build');
  t.equal(defaultFixtureJobs(64, 512), 6, 'never more than the mirror is asked to serve at once');
});

t.test('the build table names every fixture and how it ended', async (t) => {
  const table = fixtureTable([
    { name: 'trixie', ms: 88_000, cached: false, cpuS: 61.4 },
    { name: 'zfs', ms: 0, cached: false, error: 'fixture zfs: build exceeded its budget of 45 min and was stopped' },
    { name: 'bookworm', ms: 3, cached: true },
  ]);
  t.match(table, /\| trixie \| 88 \| 61 \| built \|/, 'wall and CPU seconds');
  t.match(table, /\| zfs \| 0 \| - \| failed: fixture zfs: build exceeded its budget/);
  t.match(table, /\| bookworm \| 0 \| - \| cached \|/, 'nothing measured: no figure made up');
});

t.test('withLock: a second holder waits for the first, then works; nothing overlaps', async (t) => {
  const lockPath = join(tmp, 'x.lock');
  const events: string[] = [];
  let waited = false;
  let releaseFirst!: () => void;
  const firstHolds = new Promise<void>((r) => (releaseFirst = r));
  let holding!: () => void;
  const isHeld = new Promise<void>((r) => (holding = r));
  const first = withLock(lockPath, { what: 'first', budgetMs: 10_000 }, async () => {
    events.push('first in');
    holding();
    await firstHolds;
    events.push('first out');
  });
  await isHeld;
  const second = withLock(lockPath, { what: 'second', budgetMs: 10_000, onWait: () => (waited = true) }, async () => {
    events.push('second in');
  });
  // The second is told it waits, while the first still holds the lock.
  await new Promise((r) => setTimeout(r, 600));
  t.ok(waited, 'the second holder was told it waits');
  releaseFirst();
  await Promise.all([first, second]);
  t.same(events, ['first in', 'first out', 'second in']);
  t.notOk(existsSync(lockPath), 'the lock is gone after both');
});

t.test('withLock: a waiter stops when its signal aborts', async (t) => {
  const lockPath = join(tmp, 'y.lock');
  let release!: () => void;
  let holding!: () => void;
  const isHeld = new Promise<void>((r) => (holding = r));
  const held = withLock(lockPath, { what: 'holder', budgetMs: 10_000 }, () => {
    holding();
    return new Promise<void>((r) => (release = r));
  });
  await isHeld;
  const ac = new AbortController();
  const waiter = withLock(lockPath, { what: 'waiter', budgetMs: 10_000, signal: ac.signal }, async () => 'ran');
  ac.abort(new Error('interrupted'));
  await t.rejects(waiter, /interrupted/);
  release();
  await held;
});

t.test('a recipe with a DKMS package builds its module through the DKMS cache; others are untouched', async (t) => {
  const zfs = loadRecipe('zfs');
  t.ok(usesDkms(zfs), 'zfs-dkms is a DKMS package');
  const a = mmdebstrapArgs(zfs, MIRROR, '/t', { debCache: '/c/debs', dkmsCache: '/c/dkms' });
  t.ok(a.includes(`--essential-hook=${DKMS_CACHE_HOOK} hold /c/dkms "$1"`), 'the postinsts are held back before any package is installed');
  const customize = a.filter((x) => x.startsWith('--customize-hook='));
  const build = customize.indexOf(`--customize-hook=${DKMS_CACHE_HOOK} build /c/dkms "$1"`);
  const check = customize.findIndex((x) => x.endsWith('zfs-built.sh'));
  t.ok(build >= 0 && build < check, 'the module is built (or loaded) before the recipe checks it is there');
  const trixie = mmdebstrapArgs(loadRecipe('trixie'), MIRROR, '/t', { debCache: '/c/debs', dkmsCache: '/c/dkms' });
  t.notOk(trixie.some((x) => x.includes(DKMS_CACHE_HOOK)), 'no DKMS package, no DKMS hook');
});

t.test('mounts below a tree, deepest first; the tree itself and its siblings are not below it', async (t) => {
  const info = [
    '36 25 0:32 / /var/cache/b/f/x.tmp-1/rootfs/proc rw - proc proc ro',
    '37 25 0:33 / /var/cache/b/f/x.tmp-1/rootfs/dev/pts rw - devpts none rw',
    '38 25 0:34 / /var/cache/b/f/x.tmp-1 rw - tmpfs t rw',
    '39 25 0:35 / /var/cache/b/f/x.tmp-10/rootfs/sys rw - sysfs sys rw',
  ].join('\n');
  t.same(mountsBelow(info, '/var/cache/b/f/x.tmp-1'), ['/var/cache/b/f/x.tmp-1/rootfs/dev/pts', '/var/cache/b/f/x.tmp-1/rootfs/proc']);
});

t.test('removing a half-built tree with a mount left in it unmounts first and never deletes into the mount', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, async (t) => {
  const tree = join(tmp, 'x.tmp-1');
  const mnt = join(tree, 'rootfs/dev/shm');
  mkdirSync(mnt, { recursive: true });
  writeFileSync(join(tree, 'rootfs/file'), 'x');
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
  // A file in the mounted filesystem stands for the host's own files under a bind mount.
  writeFileSync(join(mnt, 'host-file'), 'keep');
  const held = join(tmp, 'held');
  mkdirSync(held);
  execFileSync('mount', ['--bind', mnt, held]);
  t.teardown(() => void execFileSync('umount', ['--lazy', held]));
  await removeTree(tree, 'fixture');
  t.notOk(existsSync(tree), 'the tree is gone');
  t.equal(readFileSync(join(held, 'host-file'), 'utf8'), 'keep', 'what was mounted in it was not deleted');
});

t.test('build slots: a derived build, once its base is there, goes ahead of the full builds still waiting', async (t) => {
  const { slots } = await import('../src/rootfs-builder/build-many.js');
  const inSlot = slots(1);
  const order: string[] = [];
  let release!: () => void;
  const holder = inSlot(() => new Promise<void>((r) => (release = r)));
  const full = inSlot(async () => void order.push('full build'));
  const derived = inSlot(async () => void order.push('derived build'), true);
  release();
  await Promise.all([holder, full, derived]);
  t.same(order, ['derived build', 'full build']);
});

t.test("a build's steps are mmdebstrap's own announcements, nothing else it prints", async (t) => {
  t.equal(mmdebstrapStep('I: extracting archives...'), 'extracting archives', 'the step, without its ellipsis');
  t.equal(mmdebstrapStep('I: running --customize-hook in shell: sh -c "x"'), 'running --customize-hook in shell: sh -c "x"');
  t.equal(mmdebstrapStep('W: cannot find keyring'), undefined, 'a warning is not a step');
  t.equal(mmdebstrapStep('Setting up systemd (257.9-1) ...'), undefined, "a package's own output is not a step");
});
