// A caller's profile file (--profile PATH): validated by the same schema with the same
// key-path messages, and standing on a shipped profile (or another file) through `extends`.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../src/profile/profile.js';
import { isProfilePath, mergeProfile } from '../src/profile/extends.js';

async function scratch(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'caller-profile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a name is a shipped profile; a path or a .json/.toml name is a file', async (t) => {
  for (const name of ['trixie', 'centos-bootc-stream10', 'snow']) t.notOk(isProfilePath(name), name);
  for (const path of ['./mine.json', 'ci/mine.json', 'mine.toml', '/abs/p.json', '../p']) t.ok(isProfilePath(path), path);
});

t.test('merge: objects key by key; lists, values and null replace', async (t) => {
  const merged = mergeProfile(
    { a: { x: 1, y: [1, 2] }, b: [1], c: { z: 1 }, d: 1 },
    { a: { y: [3] }, b: [2, 3], c: null, e: true },
  );
  t.same(merged, { a: { x: 1, y: [3] }, b: [2, 3], c: null, d: 1, e: true });
});

t.test('a caller profile extends a shipped one and says only what differs', async (t) => {
  const dir = await scratch(t);
  const file = join(dir, 'custom-image.json');
  await writeFile(file, JSON.stringify({ extends: 'trixie', description: 'my image', expect: { services: ['ssh.service'] }, vm: { memoryMiB: 3072 } }));
  const trixie = await loadProfile('trixie');
  const mine = await loadProfile(file);
  t.equal(mine.name, 'custom-image', 'named for its file');
  t.equal(mine.description, 'my image');
  t.same(mine.expect.services, ['ssh.service'], 'a list is replaced, not appended to');
  t.same(mine.expect.suid, trixie.expect.suid, "what it leaves out is trixie's");
  t.same(mine.source, trixie.source);
  t.equal(mine.kernel.tier, trixie.kernel.tier);
  t.equal(mine.vm.memoryMiB, 3072);
  t.equal(mine.vm.cpus, trixie.vm.cpus, 'an object merges key by key');
});

t.test('a TOML profile, extending a file by a path relative to itself', async (t) => {
  const dir = await scratch(t);
  await writeFile(join(dir, 'base.json'), JSON.stringify({ extends: 'trixie', description: 'base', expect: { zfs: false } }));
  await writeFile(join(dir, 'child.toml'), 'extends = "./base.json"\ndescription = "child"\n[expect]\nservices = ["ssh.service"]\n');
  const p = await loadProfile(join(dir, 'child.toml'));
  t.equal(p.name, 'child');
  t.equal(p.description, 'child');
  t.same(p.source, { fixture: 'trixie' }, 'from two levels down');
});

t.test('bad caller profiles: one line naming the profile and the key path', async (t) => {
  const dir = await scratch(t);
  const put = async (name: string, body: unknown) => {
    await writeFile(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
    return join(dir, name);
  };
  await t.rejects(loadProfile(await put('typo.json', { extends: 'trixie', expect: { zfs: 'yes' } })), { name: 'UsageError', message: 'profile "typo": expect.zfs must be a boolean, found "yes"' });
  await t.rejects(loadProfile(await put('unknown-key.json', { extends: 'trixie', expect: { zsf: true } })), { name: 'UsageError', message: /^profile "unknown-key": unknown key expect\.zsf/ });
  await t.rejects(loadProfile(await put('no-base.json', { extends: 'no-such-profile', description: 'x' })), { name: 'UsageError', message: /^profile "no-base": extends unknown profile "no-such-profile" \(known: .*trixie/ });
  await t.rejects(loadProfile(await put('bad-toml.toml', 'extends = ')), { name: 'UsageError', message: /^profile "bad-toml": .*bad-toml\.toml is not valid TOML: / });
  await t.rejects(loadProfile(await put('bad-extends.json', { extends: 3 })), { name: 'UsageError', message: 'profile "bad-extends": extends must be a profile name or a relative path, found 3' });
  await t.rejects(loadProfile(join(dir, 'missing.json')), { name: 'UsageError', message: /^profile "missing": cannot read .*missing\.json: no such file$/ });
  await t.rejects(loadProfile(await put('Upper.json', { extends: 'trixie' })), { name: 'UsageError', message: /its name "Upper" must be lower-case/ });
  // Without extends, a caller's file is a whole profile: what is missing is named.
  await t.rejects(loadProfile(await put('alone.json', { description: 'x' })), { name: 'UsageError', message: /^profile "alone": source is required/ });
});

t.test('a cycle of extends is refused, naming the circle', async (t) => {
  const dir = await scratch(t);
  await writeFile(join(dir, 'a.json'), JSON.stringify({ extends: './b.json', description: 'a' }));
  await writeFile(join(dir, 'b.json'), JSON.stringify({ extends: './a.json', description: 'b' }));
  await writeFile(join(dir, 'self.json'), JSON.stringify({ extends: './self.json', description: 'self' }));
  await t.rejects(loadProfile(join(dir, 'a.json')), { name: 'UsageError', message: 'profile "a": extends goes round in a circle: a.json -> b.json -> a.json' });
  await t.rejects(loadProfile(join(dir, 'self.json')), { name: 'UsageError', message: 'profile "self": extends goes round in a circle: self.json -> self.json' });
});
