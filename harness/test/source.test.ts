import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../src/errors.js';
import { checkSource, describeSource, isImageReference, parseSource, type Source } from '../src/image/source.js';
import { findKernel } from '../src/image/kernel.js';

const root = mkdtempSync(join(tmpdir(), 'bootc-harness-source-test-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
/** A fresh directory with the given files (relative path -> content; a trailing / makes a directory). */
function tree(files: Record<string, string> = {}): string {
  const d = join(root, `t${seq++}`);
  mkdirSync(d, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = join(d, rel);
    if (rel.endsWith('/')) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
  }
  return d;
}

/** Runs fn, expecting a UsageError; returns its message. */
async function usageError(t: Test, fn: () => unknown, what: string): Promise<string> {
  try {
    await fn();
  } catch (e) {
    t.type(e, UsageError, `${what}: a UsageError`);
    return (e as Error).message;
  }
  t.fail(`${what}: did not throw`);
  return '';
}

t.test('parseSource: oci: layouts', async (t) => {
  t.same(parseSource('oci:/srv/images/snow'), { kind: 'oci', path: '/srv/images/snow', tag: undefined });
  t.same(parseSource('oci:/srv/images/snow:stable'), { kind: 'oci', path: '/srv/images/snow', tag: 'stable' });
  t.same(parseSource('oci:/srv/images/snow:v1.2_rc-3'), { kind: 'oci', path: '/srv/images/snow', tag: 'v1.2_rc-3' });
  t.same(parseSource('oci:out/snow'), { kind: 'oci', path: resolve('out/snow'), tag: undefined }, 'relative oci dir is resolved');
  t.same(parseSource('oci:./out/snow:latest'), { kind: 'oci', path: resolve('out/snow'), tag: 'latest' });
});

t.test('parseSource: oci-archive:', async (t) => {
  t.same(parseSource('oci-archive:/srv/snow.tar'), { kind: 'oci-archive', path: '/srv/snow.tar' });
  t.same(parseSource('oci-archive:snow.tar'), { kind: 'oci-archive', path: resolve('snow.tar') });
  t.same(parseSource('oci-archive:/srv/snow.tar:latest'), { kind: 'oci-archive', path: '/srv/snow.tar' }, 'a trailing :ref is not part of the file');
});

t.test('parseSource: containers-storage: and docker://', async (t) => {
  t.same(parseSource('containers-storage:localhost/snow:latest'), { kind: 'containers-storage', ref: 'localhost/snow:latest' });
  t.same(parseSource('containers-storage:snow'), { kind: 'containers-storage', ref: 'snow' });
  t.same(parseSource('containers-storage:0123456789ab'), { kind: 'containers-storage', ref: '0123456789ab' }, 'an image id');
  t.same(parseSource('docker://quay.io/centos-bootc/centos-bootc:stream10'), { kind: 'registry', ref: 'quay.io/centos-bootc/centos-bootc:stream10' });
  t.same(parseSource('docker://ghcr.io/org/img@sha256:' + 'a'.repeat(64)), { kind: 'registry', ref: 'ghcr.io/org/img@sha256:' + 'a'.repeat(64) });
});

t.test('parseSource: bare registry references need a host', async (t) => {
  t.same(parseSource('quay.io/centos-bootc/centos-bootc:stream9'), { kind: 'registry', ref: 'quay.io/centos-bootc/centos-bootc:stream9' });
  t.same(parseSource('localhost:5000/snow:1'), { kind: 'registry', ref: 'localhost:5000/snow:1' });
  t.same(parseSource('localhost/snow'), { kind: 'registry', ref: 'localhost/snow' });
  const m = await usageError(t, () => parseSource('centos-bootc/centos-bootc'), 'no host, no such dir');
  t.match(m, /neither an existing directory nor an image reference with a registry host/);
  t.match(await usageError(t, () => parseSource('snow'), 'bare word'), /"snow"/);
});

t.test('parseSource: fixtures', async (t) => {
  t.same(parseSource('fixture:trixie'), { kind: 'fixture', name: 'trixie' });
});

t.test('parseSource: directories', async (t) => {
  t.same(parseSource('/srv/rootfs'), { kind: 'dir', path: '/srv/rootfs' }, 'absolute, even if missing');
  t.same(parseSource('/srv/rootfs/'), { kind: 'dir', path: '/srv/rootfs' }, 'trailing slash normalised');
  t.same(parseSource('./output/snow'), { kind: 'dir', path: resolve('output/snow') }, './ relative');
  t.same(parseSource('../snow'), { kind: 'dir', path: resolve('../snow') }, '../ relative');

  // A bare relative name that exists is a directory, not an image name.
  const d = tree({ 'rootfs/': '' });
  const cwd = process.cwd();
  process.chdir(d);
  try {
    t.same(parseSource('rootfs'), { kind: 'dir', path: join(d, 'rootfs') });
  } finally {
    process.chdir(cwd);
  }
});

t.test('parseSource: malformed references are UsageErrors', async (t) => {
  t.match(await usageError(t, () => parseSource('quay.io/Bad Ref'), 'space + capital'), /malformed image reference "quay\.io\/Bad Ref"/);
  t.match(await usageError(t, () => parseSource('containers-storage:'), 'empty containers-storage'), /malformed image reference "containers-storage:"/);
  t.match(await usageError(t, () => parseSource('containers-storage:Bad Ref'), 'bad containers-storage'), /malformed/);
  t.match(await usageError(t, () => parseSource('oci:'), 'empty oci'), /oci: needs a directory/);
  t.match(await usageError(t, () => parseSource('oci::latest'), 'oci tag without dir'), /oci: needs a directory/);
  t.match(await usageError(t, () => parseSource('oci-archive:'), 'empty oci-archive'), /oci-archive: needs a file/);
  t.match(await usageError(t, () => parseSource('docker://'), 'empty docker'), /malformed image reference "docker:\/\/"/);
  t.match(await usageError(t, () => parseSource('docker://quay.io/UPPER/case'), 'upper-case repo'), /malformed/);
  t.match(await usageError(t, () => parseSource('quay.io/a/b:bad tag'), 'space in tag'), /malformed/);
});

t.test('isImageReference', async (t) => {
  for (const ok of ['snow', 'quay.io/centos-bootc/centos-bootc:stream9', 'localhost:5000/a/b', 'a/b_c__d-e', 'x@sha256:' + 'f'.repeat(64)]) {
    t.ok(isImageReference(ok), ok);
  }
  for (const bad of ['', 'Snow', 'a//b', '/abs', 'a/b:', 'a:b:c', 'x@sha256:abc', 'a'.repeat(256)]) {
    t.notOk(isImageReference(bad), JSON.stringify(bad.length > 20 ? bad.slice(0, 20) + '…' : bad));
  }
});

t.test('describeSource round-trips the transports', async (t) => {
  for (const s of ['oci:/srv/x:tag', 'oci:/srv/x', 'oci-archive:/srv/x.tar', 'containers-storage:localhost/a:b', 'docker://quay.io/a/b:c', 'fixture:trixie', '/srv/rootfs']) {
    t.equal(describeSource(parseSource(s)), s);
  }
});

t.test('checkSource: directory sources', async (t) => {
  const oneLine = (m: string, what: string) => t.notMatch(m, /\n/, `${what}: one line`);

  const missing = join(root, 'does-not-exist');
  let m = await usageError(t, () => checkSource({ kind: 'dir', path: missing }), 'missing');
  t.equal(m, `source directory ${missing} does not exist`);
  oneLine(m, 'missing');

  const file = join(tree({ 'f.tar': 'x' }), 'f.tar');
  m = await usageError(t, () => checkSource({ kind: 'dir', path: file }), 'file');
  t.equal(m, `source ${file} is a file, expected a rootfs directory`);
  oneLine(m, 'file');

  const empty = tree();
  m = await usageError(t, () => checkSource({ kind: 'dir', path: empty }), 'empty');
  t.equal(m, `source directory ${empty} is empty`);
  oneLine(m, 'empty');

  const noKernel = tree({ 'etc/os-release': 'ID=debian\n', 'usr/lib/modules/6.1.0-x/': '', 'usr/bin/true': '' });
  m = await usageError(t, () => checkSource({ kind: 'dir', path: noKernel }), 'no kernel');
  t.match(m, `source ${noKernel} has no kernel`);
  t.match(m, 'usr/lib/modules/*/vmlinuz');
  oneLine(m, 'no kernel');

  // boot/vmlinuz without its modules directory is not a usable kernel either.
  const orphanBoot = tree({ 'boot/vmlinuz-6.1.0-x': 'k' });
  await usageError(t, () => checkSource({ kind: 'dir', path: orphanBoot }), 'boot kernel without modules');

  await t.resolves(() => checkSource({ kind: 'dir', path: tree({ 'usr/lib/modules/6.1.0-x/vmlinuz': 'k' }) }), 'bootc layout passes');
  await t.resolves(() => checkSource({ kind: 'dir', path: tree({ 'boot/vmlinuz-6.1.0-x': 'k', 'usr/lib/modules/6.1.0-x/': '' }) }), 'Debian layout passes');
});

t.test('checkSource: oci, oci-archive and the rest', async (t) => {
  const layout = tree({ 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': '{}', 'blobs/': '' });
  await t.resolves(() => checkSource({ kind: 'oci', path: layout }), 'OCI layout with index.json');

  const notLayout = tree({ 'blobs/': '' });
  const m = await usageError(t, () => checkSource({ kind: 'oci', path: notLayout }), 'no index.json');
  t.equal(m, `oci: ${notLayout} is not an OCI layout (no index.json)`);
  await usageError(t, () => checkSource({ kind: 'oci', path: join(root, 'nope') }), 'missing oci dir');

  const archive = join(tree({ 'snow.tar': 'x' }), 'snow.tar');
  await t.resolves(() => checkSource({ kind: 'oci-archive', path: archive }));
  t.match(await usageError(t, () => checkSource({ kind: 'oci-archive', path: join(root, 'nope.tar') }), 'missing archive'), /is not a file/);
  t.match(await usageError(t, () => checkSource({ kind: 'oci-archive', path: tree() }), 'dir as archive'), /is not a file/);

  for (const s of [
    { kind: 'registry', ref: 'quay.io/a/b' },
    { kind: 'containers-storage', ref: 'snow' },
    { kind: 'fixture', name: 'trixie' },
  ] as Source[]) {
    await t.resolves(() => checkSource(s), `${s.kind} needs no filesystem check`);
  }
});

t.test('findKernel: bootc layout', async (t) => {
  const d = tree({ 'usr/lib/modules/6.12.0-1-amd64/vmlinuz': 'k', 'usr/lib/modules/6.12.0-1-amd64/initramfs.img': 'i' });
  t.same((await findKernel(d)), {
    release: '6.12.0-1-amd64',
    vmlinuz: '/usr/lib/modules/6.12.0-1-amd64/vmlinuz',
    initrd: '/usr/lib/modules/6.12.0-1-amd64/initramfs.img',
  });
});

t.test('findKernel: Debian /boot layout, both initrd names', async (t) => {
  const deb = tree({ 'boot/vmlinuz-6.1.0-x': 'k', 'boot/initrd.img-6.1.0-x': 'i', 'usr/lib/modules/6.1.0-x/': '' });
  t.same((await findKernel(deb)), { release: '6.1.0-x', vmlinuz: '/boot/vmlinuz-6.1.0-x', initrd: '/boot/initrd.img-6.1.0-x' });

  const fedoraish = tree({ 'boot/vmlinuz-5.14.0-427.el9.x86_64': 'k', 'boot/initramfs-5.14.0-427.el9.x86_64.img': 'i', 'usr/lib/modules/5.14.0-427.el9.x86_64/': '' });
  t.equal((await findKernel(fedoraish))?.initrd, '/boot/initramfs-5.14.0-427.el9.x86_64.img');

  const noInitrd = tree({ 'boot/vmlinuz-6.1.0-x': 'k', 'usr/lib/modules/6.1.0-x/': '' });
  const k = (await findKernel(noInitrd));
  t.equal(k?.release, '6.1.0-x');
  t.equal(k?.initrd, undefined, 'no initrd when there is none');
});

t.test('findKernel: the newest release by numeric comparison', async (t) => {
  const d = tree({
    'usr/lib/modules/6.1.0-9-amd64/vmlinuz': 'k',
    'usr/lib/modules/6.1.0-10-amd64/vmlinuz': 'k',
    'usr/lib/modules/6.9.0-1-amd64/vmlinuz': 'k',
    'usr/lib/modules/6.12.0-1-amd64/vmlinuz': 'k',
    // Newer, but only modules: not a kernel.
    'usr/lib/modules/6.18.0-1-amd64/': '',
  });
  t.equal((await findKernel(d))?.release, '6.12.0-1-amd64', '6.12 > 6.9 (not string order)');

  const abi = tree({ 'usr/lib/modules/6.1.0-9-amd64/vmlinuz': 'k', 'usr/lib/modules/6.1.0-10-amd64/vmlinuz': 'k' });
  t.equal((await findKernel(abi))?.release, '6.1.0-10-amd64', 'ABI 10 > ABI 9');

  const rh = tree({ 'usr/lib/modules/5.14.0-70.el9.x86_64/vmlinuz': 'k', 'usr/lib/modules/5.14.0-427.el9.x86_64/vmlinuz': 'k' });
  t.equal((await findKernel(rh))?.release, '5.14.0-427.el9.x86_64');
});

t.test('findKernel: nothing there', async (t) => {
  t.equal((await findKernel(join(root, 'nope'))), undefined, 'missing root');
  t.equal((await findKernel(tree({ 'etc/hostname': 'x' }))), undefined, 'no modules dir');
  t.equal((await findKernel(tree({ 'boot/vmlinuz-6.1.0-x': 'k' }))), undefined, 'boot kernel without modules dir');
});

t.test('a SOURCE path is read by its content: an OCI layout directory, an OCI archive, else a rootfs', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'bh-src-content-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  // mkosi's Format=oci output: oci-layout + index.json + blobs/.
  const layout = join(base, 'snow');
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  writeFileSync(join(layout, 'blobs/sha256/aa'), 'x'.repeat(5000));
  t.match(parseSource(layout), { kind: 'oci', path: layout, detected: /OCI image layout/ });
  // The same layout as an archive, with the blob before oci-layout (the walk skips data).
  const archive = join(base, 'snow.tar');
  execFileSync('tar', ['-cf', archive, '-C', layout, 'blobs', 'index.json', 'oci-layout']);
  t.match(parseSource(archive), { kind: 'oci-archive', path: archive, detected: /OCI archive/ });
  const plainTar = join(base, 'other.tar');
  execFileSync('tar', ['-cf', plainTar, '-C', layout, 'index.json']);
  t.match(parseSource(plainTar), { kind: 'dir' }, 'a tar without oci-layout is not an OCI archive (and is refused as a rootfs later)');
  const rootfs = join(base, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  t.same(parseSource(rootfs), { kind: 'dir', path: rootfs });
});
