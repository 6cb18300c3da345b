// The image stage: whatever the SOURCE, an image in containers-storage, its id, and the
// manifest of the tree it was made from (the independent expectation tier 1 compares with).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import type { BuiltFixture } from '../rootfs-builder/build.js';
import { ROOT_LABEL } from '../rootfs-builder/recipe.js';
import { importImage, imageDigest, imageId, imagesOf, removeImage } from './buildah.js';
import { dirImageKey, treeIdentityOf } from './dir-key.js';
import { takeManifest } from './manifest.js';
import { cacheDir } from '../util/paths.js';
import type { Manifest } from './manifest.js';
import { manifestOfImage, packageRootfs } from './package.js';
import type { Source } from './source.js';

/** Pure: a name for a source that is safe in image names and run ids. */
export function slug(s: string): string {
  return s.replace(/^.*\//, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40) || 'image';
}

export interface PreparedImage {
  ref: string;
  id: string;
  digest?: string;
  manifest: Manifest;
  kargs: string[];
  cached: boolean;
}

/** `own`: an image made for this run alone, removed with it. `log`: the run log (why a directory's image is not cached). */
export async function prepareImage(source: Source, fx: BuiltFixture | undefined, runId: string, signal: AbortSignal, own: (id: string) => void, log: (line: string) => void = () => {}): Promise<PreparedImage> {
  switch (source.kind) {
    case 'fixture': {
      // Fixture images are cached under the recipe's hash, with the manifest they were verified against.
      if (!fx) throw new InfraError('image', `fixture ${source.name} was not built`);
      const ref = `localhost/bootc-harness/${source.name}:${fx.hash}`;
      const record = join(fx.dir, 'image.json');
      const id = await imageId(ref);
      if (id && existsSync(record)) {
        const saved = JSON.parse(readFileSync(record, 'utf8')) as { id: string; manifest: Manifest };
        if (saved.id === id) return { ref, id, digest: await imageDigest(id), manifest: saved.manifest, kargs: fx.recipe.kargs, cached: true };
      }
      const labels: Record<string, string> = { 'org.bootc-harness.fixture': source.name };
      if (fx.recipe.root !== 'plain') labels[ROOT_LABEL] = fx.recipe.root;
      const p = await packageRootfs(fx.rootfs, ref, labels, runId, signal);
      writeFileSync(record, JSON.stringify({ id: p.id, manifest: p.sourceManifest }));
      return { ref, id: p.id, digest: p.digest, manifest: p.sourceManifest, kargs: fx.recipe.kargs, cached: false };
    }
    case 'dir': {
      // Keyed by what the directory holds and every entry's identity (image/dir-key.ts): the
      // same tree twice packages once; one changed file makes another image (and disk).
      const manifest = await takeManifest(source.path);
      const before = treeIdentityOf(source.path);
      const key = dirImageKey(manifest, before.identity);
      // Named by the directory's path, so that its older versions, and only they, are replaced.
      const pathTag = createHash('sha256').update(resolve(source.path)).digest('hex').slice(0, 8);
      const repo = `localhost/bootc-harness/dir-${slug(source.path).toLowerCase()}-${pathTag}`;
      if (before.staleFs) {
        // Hashing every file's contents would cost what packaging costs: skip the cache instead.
        log(`image: ${source.path} is (partly) on ${before.staleFs}, whose stat fields can be stale: its image is packaged for this run and not cached`);
        const p = await packageRootfs(source.path, `${repo}:run-${runId.toLowerCase()}`, {}, runId, signal, manifest);
        own(p.id);
        return { ref: p.ref, id: p.id, digest: p.digest, manifest, kargs: [], cached: false };
      }
      const ref = `${repo}:${key}`;
      const record = join(cacheDir(), 'dir-images', `${key}.json`);
      const id = await imageId(ref);
      if (id && existsSync(record)) {
        const saved = JSON.parse(readFileSync(record, 'utf8')) as { id: string };
        if (saved.id === id) return { ref, id, digest: await imageDigest(id), manifest, kargs: [], cached: true };
      }
      const p = await packageRootfs(source.path, ref, {}, runId, signal, manifest);
      // Computed again after the copy: a tree changed while it was packaged is not what the
      // key names, so its image is this run's alone (removed with it), never a cache entry.
      if (treeIdentityOf(source.path).identity !== before.identity) {
        log(`image: ${source.path} changed while it was packaged: its image is used for this run only and not cached`);
        own(p.id);
        return { ref, id: p.id, digest: p.digest, manifest, kargs: [], cached: false };
      }
      mkdirSync(dirname(record), { recursive: true });
      writeFileSync(record, JSON.stringify({ id: p.id, ref, path: resolve(source.path) }));
      // One image per directory: the tree as it was before this change goes, and so do the
      // images of directories that no longer exist (a build's temporary tree).
      for (const old of await imagesOf(repo)) if (old !== ref) await removeImage(old);
      await forgetVanishedDirs(dirname(record));
      return { ref, id: p.id, digest: p.digest, manifest, kargs: [], cached: false };
    }
    case 'containers-storage': {
      const id = await imageId(source.ref);
      if (!id) throw new UsageError(`containers-storage: no image ${source.ref}`);
      return { ref: source.ref, id, digest: await imageDigest(id), manifest: await manifestOfImage(id, runId), kargs: [], cached: true };
    }
    default: {
      const local = `localhost/bootc-harness/import:${runId.toLowerCase()}`;
      const transport = source.kind === 'oci' ? `oci:${source.path}${source.tag ? `:${source.tag}` : ''}` : source.kind === 'oci-archive' ? `oci-archive:${source.path}` : `docker://${source.ref}`;
      await importImage(transport, local);
      const id = (await imageId(local))!;
      own(id);
      return { ref: local, id, digest: await imageDigest(id), manifest: await manifestOfImage(id, runId), kargs: [], cached: false };
    }
  }
}

/** Removes the images (and records) of directory sources whose directory is gone. */
async function forgetVanishedDirs(records: string): Promise<void> {
  for (const f of readdirSync(records).filter((n) => n.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(join(records, f), 'utf8')) as { ref?: string; path?: string };
    if (!r.path || existsSync(r.path)) continue;
    if (r.ref) await removeImage(r.ref);
    rmSync(join(records, f), { force: true });
  }
}
