// The leftover check: it fails rather than finding nothing, and a build in progress is not a leftover.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('the leftover check fails when a tool it relies on cannot answer, instead of finding nothing', async (t) => {
  const { findLeftovers } = await import('../src/run/leftovers.js');
  const empty = mkdtempSync(join(tmpdir(), 'bh-nopath-'));
  const path = process.env.PATH;
  process.env.PATH = empty;
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(empty, { recursive: true, force: true });
  });
  await t.rejects(findLeftovers(), /buildah/);
});

t.test('a fixture build tree in progress is not a leftover; one whose builder is gone is', async (t) => {
  const { buildAlive } = await import('../src/run/leftovers.js');
  const tree = '/var/cache/bootc-harness/fixtures/zfs-15272589a0f113c9.tmp-28201-1796009081240/rootfs/proc';
  t.equal(buildAlive(tree, (pid) => pid === 28201), true, 'its builder runs: a build in progress');
  t.equal(buildAlive(tree, () => false), false, 'its builder is gone: left behind');
  t.equal(buildAlive('/var/cache/bootc-harness/fixtures/zfs-15272589a0f113c9/rootfs/proc', () => true), false, 'a complete entry has no builder: a mount there is left behind');
});
