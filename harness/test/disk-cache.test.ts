// The installed-disk cache: an entry per set of install inputs (any changed input misses),
// filled once, never written by a run (runs get copies of the key and TPM state), complete
// or absent (a failed or killed fill leaves nothing a later run would take), bounded with
// least-recently-used eviction. The installer here is a stand-in that writes files as the
// real ones do (disk, kernel, key, TPM state), so the cache's own behaviour is what is tested;
// e2e-install and e2e-tier3 hit it with real installs and boots.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'bh-disk-cache-'));
process.env.BOOTC_HARNESS_CACHE = join(tmp, 'cache');
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const { diskFor, diskKey, listDiskCache, pruneDiskCache, toEvict, diskCacheDir } = await import('../src/install/disk-cache.js');
type Inputs = Parameters<typeof diskKey>[0];

const base: Inputs = { imageId: 'a'.repeat(64), installer: 'direct', rootLayout: 'plain', luks: 'none', placement: 'host', kargs: [], minDiskGiB: 8, bootcBackend: 'auto' };

t.test('every input shapes the key; so does the installer version', async (t) => {
  const k = diskKey(base, 'v1');
  t.match(k, /^[0-9a-f]{24}$/);
  t.equal(diskKey({ ...base }, 'v1'), k, 'the same inputs: the same entry');
  t.equal(diskKey({ ...base, kargs: [] }, 'v1'), k, 'key order and copies do not matter');
  const changed: Inputs[] = [
    { ...base, imageId: 'b'.repeat(64) },
    { ...base, installer: 'bootc' },
    { ...base, rootLayout: 'composefs' },
    { ...base, luks: 'tpm2' },
    { ...base, placement: 'vm' },
    { ...base, kargs: ['quiet'] },
    { ...base, minDiskGiB: 9 },
    { ...base, bootcBackend: 'composefs' },
  ];
  const keys = new Set(changed.map((i) => diskKey(i, 'v1')));
  t.equal(keys.size, changed.length, 'each changed input is another entry');
  t.notOk(keys.has(k));
  t.not(diskKey(base, 'v2'), k, 'another installer version is another entry');
});

t.test('least recently used first, down to the bound, never the entry just filled', async (t) => {
  const e = (key: string, gib: number, day: number) => ({ key, bytes: gib * 2 ** 30, lastUsed: new Date(2026, 0, day) });
  const entries = [e('old', 4, 1), e('mid', 4, 2), e('new', 4, 3)];
  t.same(toEvict(entries, 12 * 2 ** 30, 'new'), [], 'within the bound: nothing');
  t.same(toEvict(entries, 8 * 2 ** 30, 'new'), ['old']);
  t.same(toEvict(entries, 1 * 2 ** 30, 'old'), ['mid', 'new'], 'the one to keep stays even over the bound');
});

let n = 0;
function work(): string {
  const w = join(tmp, `work${n++}`);
  mkdirSync(w);
  return w;
}
const opts = (w: string) => ({ work: w, bypass: false, budgetMs: 30_000, signal: new AbortController().signal, log: () => undefined });
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Writes what an installer leaves in a run's work dir: a disk, a kernel copy, a key pair, TPM state. */
function fakeInstall(w: string, tpm: boolean, calls: { n: number }) {
  return async () => {
    calls.n++;
    writeFileSync(join(w, 'disk.raw'), `disk for ${w}`);
    writeFileSync(join(w, 'vmlinuz'), 'kernel');
    writeFileSync(join(w, 'id_ed25519'), `private ${w}`, { mode: 0o600 });
    writeFileSync(join(w, 'id_ed25519.pub'), `public ${w}`);
    if (tpm) {
      mkdirSync(join(w, 'tpm'));
      writeFileSync(join(w, 'tpm', 'tpm2-00.permall'), `sealed in ${w}`);
    }
    return {
      disk: { path: join(w, 'disk.raw'), format: 'raw' as const, kernel: { release: '6.12.0-test', vmlinuz: join(w, 'vmlinuz') }, cmdline: 'root=x', luksPcrs: '' },
      privateKeyPath: join(w, 'id_ed25519'),
      ...(tpm ? { tpmStateDir: join(w, 'tpm') } : {}),
    };
  };
}

t.test('filled once; a hit boots the entry and gets its own copies of the key and TPM state', async (t) => {
  const inputs = { ...base, luks: 'tpm2' };
  const calls = { n: 0 };
  const w1 = work();
  const first = await diskFor(inputs, opts(w1), fakeInstall(w1, true, calls));
  t.equal(first.cached, false, 'the first run installs');
  t.ok(first.disk.path.startsWith(diskCacheDir()), 'and boots the published entry');
  t.equal(readFileSync(join(w1, 'id_ed25519'), 'utf8'), `private ${w1}`, 'with the key it installed with');
  const diskSum = sha(first.disk.path);

  const w2 = work();
  const second = await diskFor(inputs, opts(w2), fakeInstall(w2, true, calls));
  t.equal(second.cached, true, 'the same inputs hit');
  t.equal(calls.n, 1, 'the installer ran once');
  t.equal(second.disk.path, first.disk.path);
  t.equal(readFileSync(join(w2, 'id_ed25519'), 'utf8'), `private ${w1}`, 'the hit gets the key the disk authorizes');
  t.equal(readFileSync(join(w2, 'tpm', 'tpm2-00.permall'), 'utf8'), `sealed in ${w1}`, 'and the TPM state it was sealed to, as a copy');
  writeFileSync(join(w2, 'tpm', 'tpm2-00.permall'), 'changed by a boot');
  const w3 = work();
  await diskFor(inputs, opts(w3), fakeInstall(w3, true, calls));
  t.equal(readFileSync(join(w3, 'tpm', 'tpm2-00.permall'), 'utf8'), `sealed in ${w1}`, 'a run changing its TPM copy changes nothing in the cache');
  t.equal(sha(first.disk.path), diskSum, 'the base disk is unchanged');

  const w4 = work();
  const other = await diskFor({ ...inputs, kargs: ['quiet'] }, opts(w4), fakeInstall(w4, true, calls));
  t.equal(other.cached, false, 'a changed input misses');
  t.equal(calls.n, 2);
});

t.test('a failed fill leaves no entry; a bypassed run keeps nothing', async (t) => {
  const inputs = { ...base, imageId: 'c'.repeat(64) };
  const before = readdirSync(diskCacheDir()).sort();
  const w = work();
  await t.rejects(
    diskFor(inputs, opts(w), async () => {
      writeFileSync(join(w, 'disk.raw'), 'half');
      throw new Error('installer failed');
    }),
    /installer failed/,
  );
  t.same(readdirSync(diskCacheDir()).sort(), before, 'nothing published, no lock left');
  const calls = { n: 0 };
  const wb = work();
  const r = await diskFor(inputs, { ...opts(wb), bypass: true }, fakeInstall(wb, false, calls));
  t.equal(r.cached, false);
  t.equal(r.disk.path, join(wb, 'disk.raw'), 'bypassed: the run boots its own disk');
  t.same(readdirSync(diskCacheDir()).sort(), before, 'and nothing is cached');
});

t.test('list and prune', async (t) => {
  const listed = listDiskCache();
  t.equal(listed.length, 2);
  t.ok(listed.every((e) => e.bytes > 0 && e.inputs.installer === 'direct'));
  const r = pruneDiskCache();
  t.equal(r.removed.length, 2);
  t.same(listDiskCache(), []);
  t.notOk(readdirSync(diskCacheDir()).some((f) => !f.endsWith('.lock') && existsSync(join(diskCacheDir(), f, 'entry.json'))));
});
