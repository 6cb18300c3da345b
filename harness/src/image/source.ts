// What the user handed us, parsed and checked before anything starts.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { findKernel } from './kernel.js';

export type Source =
  | { kind: 'fixture'; name: string }
  | { kind: 'dir'; path: string }
  | { kind: 'oci'; path: string; tag?: string }
  | { kind: 'oci-archive'; path: string }
  | { kind: 'containers-storage'; ref: string }
  | { kind: 'registry'; ref: string };

// Docker reference grammar, simplified: [host[:port]/]path[:tag][@sha256:hex]
const REF = /^(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9-]+)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function isImageReference(s: string): boolean {
  return s.length <= 255 && REF.test(s);
}

/** Pure: turns SOURCE into a typed source, or a UsageError naming what is wrong. */
export function parseSource(arg: string): Source {
  if (arg.startsWith('fixture:')) return { kind: 'fixture', name: arg.slice('fixture:'.length) };
  if (arg.startsWith('oci:')) {
    const rest = arg.slice(4);
    const m = /^(.*?)(?::([A-Za-z0-9_][A-Za-z0-9._-]*))?$/.exec(rest)!;
    if (!m[1]) throw new UsageError(`malformed image reference "${arg}": oci: needs a directory`);
    return { kind: 'oci', path: resolve(m[1]), tag: m[2] };
  }
  if (arg.startsWith('oci-archive:')) {
    const p = arg.slice('oci-archive:'.length).replace(/:[^/]*$/, '');
    if (!p) throw new UsageError(`malformed image reference "${arg}": oci-archive: needs a file`);
    return { kind: 'oci-archive', path: resolve(p) };
  }
  if (arg.startsWith('containers-storage:')) {
    const ref = arg.slice('containers-storage:'.length);
    if (!ref || !(isImageReference(ref) || /^[a-f0-9]{12,64}$/.test(ref))) throw new UsageError(`malformed image reference "${arg}"`);
    return { kind: 'containers-storage', ref };
  }
  if (arg.startsWith('docker://')) {
    const ref = arg.slice('docker://'.length);
    if (!isImageReference(ref)) throw new UsageError(`malformed image reference "${arg}"`);
    return { kind: 'registry', ref };
  }
  // A path if it looks like one or exists; otherwise it must be a registry reference.
  if (arg.startsWith('/') || arg.startsWith('.') || existsSync(arg)) return { kind: 'dir', path: resolve(arg) };
  if (arg.includes('/') && isImageReference(arg) && /^[^/]+\.[^/]+\/|^[^/]+:[0-9]+\/|^localhost\//.test(arg)) return { kind: 'registry', ref: arg };
  if (arg.includes('/') && !isImageReference(arg)) throw new UsageError(`malformed image reference "${arg}" (and no such directory)`);
  throw new UsageError(`source "${arg}" is neither an existing directory nor an image reference with a registry host`);
}

/** Checks a source against the filesystem: everything a user can get wrong, before work starts. */
export function checkSource(src: Source): void {
  switch (src.kind) {
    case 'dir': {
      if (!existsSync(src.path)) throw new UsageError(`source directory ${src.path} does not exist`);
      if (!statSync(src.path).isDirectory()) throw new UsageError(`source ${src.path} is a file, expected a rootfs directory`);
      if (readdirSync(src.path).length === 0) throw new UsageError(`source directory ${src.path} is empty`);
      const k = findKernel(src.path);
      if (!k) throw new UsageError(`source ${src.path} has no kernel (looked for usr/lib/modules/*/vmlinuz and boot/vmlinuz-*)`);
      return;
    }
    case 'oci':
      if (!existsSync(resolve(src.path, 'index.json'))) throw new UsageError(`oci: ${src.path} is not an OCI layout (no index.json)`);
      return;
    case 'oci-archive':
      if (!existsSync(src.path) || !statSync(src.path).isFile()) throw new UsageError(`oci-archive: ${src.path} is not a file`);
      return;
    default:
      return;
  }
}

export function describeSource(src: Source): string {
  switch (src.kind) {
    case 'fixture':
      return `fixture:${src.name}`;
    case 'dir':
      return src.path;
    case 'oci':
      return `oci:${src.path}${src.tag ? `:${src.tag}` : ''}`;
    case 'oci-archive':
      return `oci-archive:${src.path}`;
    default:
      return src.kind === 'containers-storage' ? `containers-storage:${src.ref}` : `docker://${src.ref}`;
  }
}
