// The ostree backend's record: each deployment on the installed disk and the digests of the
// composefs image ostree wrote for it, read on the host from the disk file (no loop device,
// no mount): tier 4's independent expectation of an ostree deployment's composefs root.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debugfsNames, fsverityDigest, ostreeDeploymentsOf } from '../src/install/ostree-record.js';
import { runChecked } from '../src/util/exec.js';

const S = { stage: 'disk' as const };

const digestOf = (b: Buffer) => fsverityDigest(b.length, async (off, buf) => b.copy(buf, 0, off, Math.min(off + 4096, b.length)));

t.test("fs-verity digests agree with fsverity-utils' `fsverity digest` across tree depths", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-fsverity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Empty, one partial block, one block, two blocks, one level of 128 hashes, two levels.
  for (const size of [0, 1, 4096, 4097, 128 * 4096, 128 * 4096 + 5, 300 * 4096 + 17]) {
    const data = randomBytes(size);
    const f = join(dir, `f${size}`);
    writeFileSync(f, data);
    const want = (await runChecked(['fsverity', 'digest', '--hash-alg=sha256', '--block-size=4096', f], S)).stdout.split(' ')[0]!;
    t.equal(`sha256:${await digestOf(data)}`, want, `${size} bytes`);
  }
});

t.test('debugfs listings: names, directories only when asked, never . or ..', async (t) => {
  const out = '/2/040755/0/0/.//\n/2/040755/0/0/..//\n/131/040755/0/0/default//\n/140/100644/0/0/stray/12/\n';
  t.same(debugfsNames(out), ['default', 'stray']);
  t.same(debugfsNames(out, true), ['default']);
});

const root = process.getuid?.() === 0;
t.test('a disk with an ostree deployment: its commit and the digests of its .ostree.cfs, read at the partition offset', { skip: root ? false : 'needs root' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-ostree-record-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const commit = createHash('sha256').update('commit').digest('hex');
  const cfs = randomBytes(3 * 4096 + 100);
  writeFileSync(join(dir, 'cfs'), cfs);
  // The layout bootc's ostree backend leaves: /ostree/deploy/<stateroot>/deploy/<commit>.<serial>/.ostree.cfs
  const part = join(dir, 'root.img');
  await runChecked(['truncate', '-s', '40M', part], S);
  await runChecked(['mkfs.ext4', '-q', '-F', part], S);
  const dep = `/ostree/deploy/default/deploy/${commit}.0`;
  const cmds = ['mkdir /ostree', 'mkdir /ostree/deploy', 'mkdir /ostree/deploy/default', 'mkdir /ostree/deploy/default/deploy', `mkdir ${dep}`, `write ${join(dir, 'cfs')} ${dep}/.ostree.cfs`].join('\n');
  writeFileSync(join(dir, 'cmds'), cmds + '\n');
  await runChecked(['debugfs', '-w', '-f', join(dir, 'cmds'), part], S);
  const disk = join(dir, 'disk.raw');
  await runChecked(['truncate', '-s', '64M', disk], S);
  await runChecked(['sfdisk', '--quiet', disk], { ...S, input: 'label: gpt\nsize=4MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n' });
  await runChecked(['dd', `if=${part}`, `of=${disk}`, 'bs=1M', 'seek=5', 'conv=notrunc,sparse', 'status=none'], S);

  const deps = await ostreeDeploymentsOf(disk);
  t.same(deps, [
    {
      stateroot: 'default',
      deployment: `${commit}.0`,
      commit,
      composefsImage: {
        path: `${dep}/.ostree.cfs`,
        size: cfs.length,
        sha256: createHash('sha256').update(readFileSync(join(dir, 'cfs'))).digest('hex'),
        fsverity: await digestOf(cfs),
      },
    },
  ]);

  const plain = join(dir, 'plain.raw');
  await runChecked(['truncate', '-s', '8M', plain], S);
  await runChecked(['sfdisk', '--quiet', plain], { ...S, input: 'label: gpt\ntype=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n' });
  t.equal(await ostreeDeploymentsOf(plain), undefined, 'no filesystem with /ostree/deploy: no record');
});
