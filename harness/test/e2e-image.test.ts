// The image stage for real: package a rootfs with buildah and read it back.
//
// Boots: none (the image stage only).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, VM_TESTS } from './helpers/cli.js';
import { findLeftovers } from '../src/run/leftovers.js';
import { run } from '../src/util/exec.js';
import { imageLabels } from '../src/image/buildah.js';

t.test('manifest of a rootfs equals the manifest of its packaged image', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const built = await cli(['fixtures', 'build', 'trixie']);
  t.equal(built.code, 0, built.stderr);
  const rootfs = built.stdout.trim().split(' ')[0]!;
  const image = `localhost/bootc-harness/e2e-package:${process.pid}`;
  t.teardown(async () => {
    await run(['buildah', 'rmi', image], { stage: 'image' });
  });
  const p = await cli(['package', rootfs, image, '--label', 'org.example.test=yes']);
  t.equal(p.code, 0, p.stderr);
  t.match(await imageLabels(image), { 'containers.bootc': '1', 'org.example.test': 'yes' });
  const fromDir = await cli(['manifest', rootfs]);
  const fromImage = await cli(['manifest', image]);
  t.equal(fromDir.code, 0, fromDir.stderr);
  t.equal(fromImage.code, 0, fromImage.stderr);
  const a = JSON.parse(fromDir.stdout);
  const b = JSON.parse(fromImage.stdout);
  t.ok(a.special.some((e: { path: string; mode: string }) => e.path === '/usr/bin/sudo' && e.mode === '4755'), 'sudo is SUID in the source');
  t.ok(a.special.some((e: { path: string; caps?: string }) => e.path === '/usr/bin/ping' && e.caps === 'cap_net_raw=ep'), 'ping has cap_net_raw');
  t.same(b, a, 'image manifest equals rootfs manifest');

  // The other transports a SOURCE may use: an OCI layout directory and an OCI archive.
  const ociDir = mkdtempSync(join(tmpdir(), 'bh-oci-'));
  t.teardown(() => rmSync(ociDir, { recursive: true, force: true }));
  await run(['skopeo', 'copy', '--quiet', `containers-storage:${image}`, `oci:${join(ociDir, 'layout')}:e2e`], { stage: 'image' });
  await run(['skopeo', 'copy', '--quiet', `containers-storage:${image}`, `oci-archive:${join(ociDir, 'image.tar')}`], { stage: 'image' });
  const fromOci = await cli(['manifest', `oci:${join(ociDir, 'layout')}:e2e`]);
  t.equal(fromOci.code, 0, fromOci.stderr);
  t.same(JSON.parse(fromOci.stdout), a, 'oci: layout manifest equals rootfs manifest');
  // By content, with no transport prefix: a directory holding oci-layout is an OCI layout.
  const byContent = await cli(['manifest', join(ociDir, 'layout')]);
  t.equal(byContent.code, 0, byContent.stderr);
  t.same(JSON.parse(byContent.stdout), a, 'a bare OCI layout path is read as oci:, and its manifest equals the rootfs manifest');
  const fromArchive = await cli(['manifest', `oci-archive:${join(ociDir, 'image.tar')}`]);
  t.equal(fromArchive.code, 0, fromArchive.stderr);
  t.same(JSON.parse(fromArchive.stdout), a, 'oci-archive: manifest equals rootfs manifest');
  t.same(await findLeftovers(), [], 'no working container or mount left');
});
