// The installer VM sees only the image under test: it is exported alone as an OCI layout
// (blobs, no unpacked tree on the host) that bootc installs from with --source-imgref oci:.
// The export runs for real here, with skopeo on a small image packaged by buildah.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { exportImageForInstaller, imageExportArgs, installerSourceImgref } from '../src/install/image-export.js';
import { packageRootfs } from '../src/image/package.js';
import { removeImage } from '../src/image/buildah.js';
import { UsageError } from '../src/errors.js';

const ID = 'f'.repeat(64);

t.test('the export names the image by its whole ID and drops signatures an OCI layout cannot hold', async (t) => {
  const a = imageExportArgs(ID, '/w/installer-image', '/w/installer-image.digest');
  t.equal(a[0], 'skopeo');
  t.equal(a.at(-2), `containers-storage:${ID}`, 'by ID: the one image, whatever names point at it');
  t.equal(a.at(-1), 'oci:/w/installer-image', 'a layout without a reference: its one manifest is read without one');
  t.ok(a.includes('--remove-signatures'));
  t.equal(a[a.indexOf('--digestfile') + 1], '/w/installer-image.digest');
  t.throws(() => imageExportArgs('abc', '/w/x', '/w/d'), UsageError, 'a short ID could match another image');
  t.throws(() => imageExportArgs(ID, 'rel/x', '/w/d'), UsageError);
  t.throws(() => imageExportArgs(ID, '/w/a:b', '/w/d'), UsageError, "':' would end the oci: path");
  t.equal(installerSourceImgref(), 'oci:/run/bootc-harness/image');
});

const root = process.getuid?.() === 0;
t.test('an image exported for real: one manifest, its blobs, its digest recorded, nothing else of the host store', { skip: root ? false : 'needs root (buildah, skopeo on root storage)' }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'bh-export-'));
  const rootfs = join(tmp, 'rootfs');
  mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
  writeFileSync(join(rootfs, 'usr/bin/hello'), 'the image under test\n');
  const work = join(tmp, 'work');
  mkdirSync(work);
  const img = await packageRootfs(rootfs, `localhost/bh-test/image-export:${process.pid}`, {}, `export-${process.pid}`);
  t.teardown(async () => {
    await removeImage(img.id).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  });
  const out = await exportImageForInstaller(img.id, work);
  t.equal(out.dir, join(work, 'installer-image'));
  const index = JSON.parse(readFileSync(join(out.dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.equal(index.manifests.length, 1, 'the layout holds one image');
  t.equal(index.manifests[0]!.digest, out.manifestDigest, "skopeo's digest file names that manifest");
  const blob = (d: string) => join(out.dir, 'blobs', ...d.split(':'));
  const manifestText = readFileSync(blob(out.manifestDigest));
  t.equal(`sha256:${createHash('sha256').update(manifestText).digest('hex')}`, out.manifestDigest, 'the manifest blob is what the digest says');
  const manifest = JSON.parse(manifestText.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const blobs = readdirSync(join(out.dir, 'blobs', 'sha256')).map((b) => `sha256:${b}`).sort();
  t.same(blobs, [out.manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)].sort(), 'exactly the manifest, config and layers of this image');
  t.notOk(existsSync(join(out.dir, 'usr')), 'nothing unpacked on the host');
});
