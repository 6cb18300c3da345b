// The image stage: whatever the SOURCE, an image in containers-storage, its id, and the
// manifest of the tree it was made from (the independent expectation tier 1 compares with).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../errors.js';
import type { BuiltFixture } from '../fixtures/build.js';
import { ROOT_LABEL } from '../fixtures/recipe.js';
import { importImage, imageDigest, imageId } from './buildah.js';
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

/** `own`: an image made for this run alone, removed with it. */
export async function prepareImage(source: Source, fx: BuiltFixture | undefined, runId: string, signal: AbortSignal, own: (id: string) => void): Promise<PreparedImage> {
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
      // A directory may change between runs: package it afresh, and drop the image afterwards.
      const ref = `localhost/bootc-harness/${slug(source.path).toLowerCase()}:${runId.toLowerCase()}`;
      const p = await packageRootfs(source.path, ref, {}, runId, signal);
      own(p.id);
      return { ref: p.ref, id: p.id, digest: p.digest, manifest: p.sourceManifest, kargs: [], cached: false };
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
