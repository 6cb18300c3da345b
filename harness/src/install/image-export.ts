// The image under test, exported alone for the installer VM: an OCI image layout directory
// (blobs and an index, nothing unpacked on the host) that the VM gets as a read-only share,
// so bootc in the VM sees this one image and never the host's container storage (issue 23).
//
// bootc installs from it with `--source-imgref oci:<dir>`: bootc-install-to-disk(8)
// (docs/src/man/bootc-install-to-disk.8.md) "--source-imgref … See skopeo(1) for accepted
// formats", which include oci:path[:reference]; outside a container bootc needs exactly this
// (crates/lib/src/install.rs prepare_install: "Either --source-imgref must be defined or this
// command must be executed inside a podman container"). Both backends pull any skopeo
// transport: ostree-ext's container import through containers-image-proxy, and the composefs
// backend's direct pull "from the source transport (registry, OCI dir, etc.)"
// (crates/lib/src/bootc_composefs/repo.rs). bcvk instead shares the host's storage as an
// additional image store (bootc-dev/bcvk crates/kit/src/to_disk.rs); that lets the guest read
// every image and layer of the host, which an untrusted image must not.
//
// Signatures are dropped on export: an OCI layout cannot hold them (containers/image refuses to
// push signatures to oci:), and their only use here was bcvk's one retry on containers/image's
// "Would invalidate signatures", which an unsigned layout never meets.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { runChecked } from '../util/exec.js';

/** Where the installer unit mounts the exported image, read-only. */
export const INSTALLER_IMAGE_DIR = '/run/bootc-harness/image';
/** virtiofs tag of the exported image's share. */
export const INSTALLER_IMAGE_TAG = 'bhimage';

/** A whole-ID reference to the image in the host's storage: the one image, whatever it is named. */
function storageRef(imageId: string): string {
  if (!/^[0-9a-f]{64}$/.test(imageId)) throw new UsageError(`not a full image ID: ${JSON.stringify(imageId)}`);
  return `containers-storage:${imageId}`;
}

/** skopeo's argv that writes the image alone into an OCI layout at `dir` and its manifest digest to `digestFile`. */
export function imageExportArgs(imageId: string, dir: string, digestFile: string): string[] {
  for (const p of [dir, digestFile]) if (!p.startsWith('/') || /[:\s]/.test(p)) throw new UsageError(`export path must be absolute, without ':' or spaces: ${JSON.stringify(p)}`);
  // No reference in the layout: a layout with one manifest is read without one (oci: transport).
  return ['skopeo', 'copy', '--quiet', '--remove-signatures', '--digestfile', digestFile, storageRef(imageId), `oci:${dir}`];
}

/** bootc's --source-imgref for the layout as the installer VM mounts it. */
export function installerSourceImgref(mountDir = INSTALLER_IMAGE_DIR): string {
  return `oci:${mountDir}`;
}

export interface ExportedImage {
  /** The OCI layout on the host, shared read-only into the installer VM. */
  dir: string;
  /** The manifest digest of the exported copy: what bootc installs and records. */
  manifestDigest: string;
}

/** Where an export lives in a run's work dir (the caller removes both when the install ends). */
export function exportPaths(workDir: string): { dir: string; digestFile: string } {
  return { dir: join(workDir, 'installer-image'), digestFile: join(workDir, 'installer-image.digest') };
}

/** Exports the image alone into `<workDir>/installer-image` (created here, 0700). */
export async function exportImageForInstaller(imageId: string, workDir: string, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ExportedImage> {
  const { dir, digestFile } = exportPaths(workDir);
  mkdirSync(dir, { mode: 0o700 });
  // The host's own storage and skopeo: nothing of the image runs; the layers are copied as data.
  await runChecked(imageExportArgs(imageId, dir, digestFile), { stage: 'disk', timeoutMs: o.timeoutMs ?? 15 * 60_000, ...(o.signal ? { signal: o.signal } : {}) });
  const manifestDigest = readFileSync(digestFile, 'utf8').trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(manifestDigest)) throw new Error(`skopeo wrote no manifest digest for the exported image (${JSON.stringify(manifestDigest.slice(0, 80))})`);
  return { dir, manifestDigest };
}
