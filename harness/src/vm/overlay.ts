// A throwaway qcow2 overlay on an installed disk: the VM writes there, the disk as
// installed stays as it was (a retried boot starts from it again).
import { InfraError } from '../errors.js';
import { runChecked } from '../util/exec.js';

export interface DiskRef {
  path: string;
  format: 'raw' | 'qcow2';
}

/** Pure: the qemu-img command that makes `overlay` on top of `base`. */
export function overlayArgs(base: DiskRef, overlay: string): string[] {
  return ['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base.path, '-F', base.format, overlay];
}

export async function createOverlay(base: DiskRef, overlay: string, signal?: AbortSignal): Promise<DiskRef> {
  if (!base.path.startsWith('/')) throw new InfraError('vm', `disk path must be absolute for an overlay: ${base.path}`);
  await runChecked(overlayArgs(base, overlay), { stage: 'vm', signal });
  return { path: overlay, format: 'qcow2' };
}
