// One rootfs per kernel: a matrix row is (kernel, root layout), so the plain and the composefs
// row of one kernel name the same fixture, and `fixtures build` of the matrix's fixtures makes
// four rootfs trees (one per kernel the matrix boots), not eight. Each of the four carries the
// composefs initramfs support the composefs row needs (inert on a plain root).
import t from 'tap';
import { matrixProfiles } from '../src/run/matrix.js';
import { listFixtures, loadRecipe } from '../src/rootfs-builder/recipe.js';

const COMPOSEFS_HOOK = /\/fixtures\/common\/composefs-root\.sh$/;

t.test('the eight matrix rows use four recipes, one per kernel', async (t) => {
  const rows = await matrixProfiles();
  t.equal(rows.length, 8, 'eight rows stay');
  const fixtureOf = Object.fromEntries(rows.map((p) => [p.name, 'fixture' in p.source ? p.source.fixture : '']));
  t.same(fixtureOf, {
    bookworm: 'bookworm',
    'composefs-rhel9': 'bookworm',
    trixie: 'trixie',
    'composefs-pre-6.15': 'trixie',
    'trixie-6.18': 'trixie-6.18',
    'composefs-6.18': 'trixie-6.18',
    'trixie-backports': 'trixie-backports',
    'composefs-default': 'trixie-backports',
  }, 'the composefs row of a kernel shares the plain row\'s fixture');
  const trees = [...new Set(Object.values(fixtureOf))];
  t.equal(trees.length, 4, 'four rootfs trees');
  for (const name of trees) {
    const r = loadRecipe(name);
    t.notOk(r.base, `${name} is a tree of its own (mmdebstrap), not a copy`);
    t.ok(r.hooks.some((h) => COMPOSEFS_HOOK.test(h)), `${name}: its initramfs can mount a composefs root`);
    t.ok(r.include.some((p) => /^composefs(\/|$)/.test(p)), `${name}: mount.composefs is in the image`);
    t.equal(r.root, 'plain', `${name}: no composefs label; the profile chooses the layout`);
  }
  for (const p of rows) t.equal(p.rootLayout ?? 'plain', p.name.startsWith('composefs-') ? 'composefs' : 'plain', `${p.name}: layout chosen by the profile`);
  // The rows of one tree agree on the kernel they expect.
  for (const name of trees) {
    const tiers = new Set(rows.filter((p) => fixtureOf[p.name] === name).map((p) => `${p.kernel.tier} ${p.kernel.release ?? ''}`));
    t.equal(tiers.size, 1, `${name}: both rows expect one kernel (${[...tiers].join(' | ')})`);
  }
  t.notOk(listFixtures().some((n) => n.startsWith('composefs-')), 'no composefs-only rootfs left to build');
});
