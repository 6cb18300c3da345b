// buildah and skopeo, one verb a function. Working containers are registered with
// the caller's Teardown the moment they exist, so nothing outlives the run.
import { readFile } from 'node:fs/promises';
import { InfraError } from '../errors.js';
import { run, runChecked } from '../util/exec.js';
import type { Teardown } from '../util/teardown.js';

const S = { stage: 'image' as const };

export interface WorkingContainer {
  name: string;
  mountpoint: string;
}

/** Creates a working container and mounts it; teardown unmounts and removes it. */
export async function mountedContainer(from: string, name: string, td: Teardown): Promise<WorkingContainer> {
  await runChecked(['buildah', 'from', '--pull-never', '--name', name, from], S);
  td.defer(`buildah rm ${name}`, async () => {
    await runChecked(['buildah', 'rm', name], S);
  });
  const m = await runChecked(['buildah', 'mount', name], S);
  td.defer(`buildah umount ${name}`, async () => {
    await runChecked(['buildah', 'umount', name], S);
  });
  const mountpoint = m.stdout.trim();
  // The image is untrusted: its device nodes must not open host devices and its SUID files
  // must not gain privileges through this mount. buildah has no mount options, so the mount
  // point's own flags are changed (MS_REMOUNT|MS_BIND: this mount only, the overlay untouched).
  await runChecked(['mount', '-o', 'remount,bind,nodev,nosuid', mountpoint], S);
  const flags = mountFlagsOf(await readFile('/proc/self/mountinfo', 'utf8'), mountpoint);
  if (!flags?.includes('nodev') || !flags.includes('nosuid')) throw new InfraError('image', `the image mount ${mountpoint} is not nodev,nosuid after remounting (${flags?.join(',') ?? 'not in mountinfo'})`);
  return { name, mountpoint };
}

/** Pure: the per-mount flags (field 6 of mountinfo, proc(5)) of the mount at `mountpoint`, the last one mounted there. */
export function mountFlagsOf(mountinfo: string, mountpoint: string): string[] | undefined {
  // mountinfo escapes space, tab, newline and backslash as octal.
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let found: string[] | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 5 && unescape(f[4]!) === mountpoint) found = f[5]!.split(',');
  }
  return found;
}

export async function imageId(ref: string): Promise<string | undefined> {
  const r = await run(['buildah', 'inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref], S);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function imageDigest(ref: string): Promise<string | undefined> {
  const r = await run(['buildah', 'inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', ref], S);
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}

export async function imageLabels(ref: string): Promise<Record<string, string>> {
  // buildah 1.28's templates have no json function: parse the whole inspect document.
  const r = await runChecked(['buildah', 'inspect', '--type', 'image', ref], S);
  const doc = JSON.parse(r.stdout) as { OCIv1?: { config?: { Labels?: Record<string, string> } } };
  return doc.OCIv1?.config?.Labels ?? {};
}

/** Pure: `buildah config` arguments for the labels every packaged image carries. */
export function labelArgs(labels: Record<string, string>): string[] {
  // containers.bootc=1 last: a caller cannot switch it off.
  return Object.entries({ ...labels, 'containers.bootc': '1' }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}

export async function commit(container: string, image: string, labels: Record<string, string>, signal?: AbortSignal): Promise<string> {
  await runChecked(['buildah', 'config', ...labelArgs(labels), container], S);
  const r = await runChecked(['buildah', 'commit', '--quiet', '--rm=false', container, image], { ...S, signal });
  return r.stdout.trim();
}

/** Every tag of one repository (name without tag) in containers-storage, as name:tag. */
export async function imagesOf(repository: string): Promise<string[]> {
  const r = await run(['buildah', 'images', '--noheading', '--format', '{{.Name}}:{{.Tag}}'], S);
  return r.exitCode === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${repository}:`)) : [];
}

export async function removeImage(id: string): Promise<void> {
  await run(['buildah', 'rmi', id], S);
}

/** Copies an image from any transport skopeo knows into containers-storage. */
export async function importImage(transportRef: string, localName: string): Promise<void> {
  await runChecked(['skopeo', 'copy', '--quiet', transportRef, `containers-storage:${localName}`], S);
}
