// The image stage: a rootfs directory becomes an OCI image in containers-storage,
// copied with `cp -a` into a mounted scratch container so SUID/SGID bits, xattrs,
// file capabilities and hardlinks survive (COPY and `buildah copy` drop some),
// then the committed image is checked against the source's manifest.
import { AssertionFailure } from '../errors.js';
import { runChecked } from '../util/exec.js';
import { Teardown } from '../util/teardown.js';
import { commit, imageDigest, mountedContainer } from './buildah.js';
import { diffManifest, formatLosses, takeManifest, type Manifest } from './manifest.js';

export interface PackagedImage {
  ref: string;
  id: string;
  digest?: string;
  sourceManifest: Manifest;
}

/** `manifest`: the rootfs's, when the caller has just taken it. */
export async function packageRootfs(rootfs: string, image: string, labels: Record<string, string>, runId: string, signal?: AbortSignal, manifest?: Manifest): Promise<PackagedImage> {
  const td = new Teardown();
  try {
    const sourceManifest = manifest ?? (await takeManifest(rootfs));
    const ctr = await mountedContainer('scratch', `bh-${runId}-pkg`, td);
    await runChecked(['cp', '-a', `${rootfs}/.`, `${ctr.mountpoint}/`], { stage: 'image', signal });
    const id = await commit(ctr.name, image, labels, signal);
    await td.runOrThrow();
    await verifyImage(id, sourceManifest, runId);
    return { ref: image, id, digest: await imageDigest(id), sourceManifest };
  } finally {
    await td.run();
  }
}

/** Reads the committed image back and fails, naming paths, on anything it lost. */
export async function verifyImage(id: string, source: Manifest, runId: string): Promise<Manifest> {
  const imageManifest = await manifestOfImage(id, runId);
  const losses = diffManifest(source, imageManifest);
  if (losses.length) throw new AssertionFailure('image', `committed image lost metadata:\n${formatLosses(losses)}`);
  return imageManifest;
}

export async function manifestOfImage(ref: string, runId: string): Promise<Manifest> {
  const td = new Teardown();
  try {
    const ctr = await mountedContainer(ref, `bh-${runId}-manifest`, td);
    return await takeManifest(ctr.mountpoint);
  } finally {
    await td.runOrThrow();
  }
}
