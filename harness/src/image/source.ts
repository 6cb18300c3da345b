// What the user handed us, parsed and checked before anything starts.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { findKernel } from './kernel.js';

export type Source =
  | { kind: 'fixture'; name: string }
  | { kind: 'dir'; path: string }
  | { kind: 'oci'; path: string; tag?: string; detected?: string }
  | { kind: 'oci-archive'; path: string; detected?: string }
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
  // A path if it looks like one or exists (read by its content); otherwise a registry reference.
  if (arg.startsWith('/') || arg.startsWith('.') || existsSync(arg)) return pathSource(resolve(arg));
  if (arg.includes('/') && isImageReference(arg) && /^[^/]+\.[^/]+\/|^[^/]+:[0-9]+\/|^localhost\//.test(arg)) return { kind: 'registry', ref: arg };
  if (arg.includes('/') && !isImageReference(arg)) throw new UsageError(`malformed image reference "${arg}" (and no such directory)`);
  throw new UsageError(`source "${arg}" is neither an existing directory nor an image reference with a registry host`);
}

/**
 * A path is what its content says: a directory holding `oci-layout` is an OCI image layout
 * (mkosi's Format=oci writes one), a tar file holding it an OCI archive; else a rootfs.
 */
export function pathSource(path: string): Source {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory() && existsSync(join(path, 'oci-layout'))) return { kind: 'oci', path, detected: 'a directory holding oci-layout: an OCI image layout' };
  if (st?.isFile() && tarHolds(path, 'oci-layout')) return { kind: 'oci-archive', path, detected: 'a tar file holding oci-layout: an OCI archive' };
  return { kind: 'dir', path };
}

/** Whether a tar file has a top-level entry `name`: walks the headers only, never the data. */
export function tarHolds(file: string, name: string, maxEntries = 10_000): boolean {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(512);
    let at = 0;
    for (let i = 0; i < maxEntries; i++) {
      if (readSync(fd, header, 0, 512, at) < 512) return false;
      if (header.every((b) => b === 0)) return false;
      if (header.toString('latin1', 257, 262) !== 'ustar') return false; // not a (POSIX) tar
      const entry = header.toString('latin1', 0, 100).replace(/\0.*$/s, '').replace(/^\.\//, '');
      if (entry === name) return true;
      const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      if (!Number.isFinite(size) || size < 0) return false;
      at += 512 + Math.ceil(size / 512) * 512;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Checks a source against the filesystem: everything a user can get wrong, before work starts. */
export async function checkSource(src: Source): Promise<void> {
  switch (src.kind) {
    case 'dir': {
      if (!existsSync(src.path)) throw new UsageError(`source directory ${src.path} does not exist`);
      if (!statSync(src.path).isDirectory()) throw new UsageError(`source ${src.path} is a file, expected a rootfs directory`);
      if (readdirSync(src.path).length === 0) throw new UsageError(`source directory ${src.path} is empty`);
      const k = await findKernel(src.path);
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
