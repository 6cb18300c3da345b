// Removing a build tree that a killed chroot tool may have left mounts in (mmdebstrap
// mounts /proc, /sys, /dev/pts and /dev/shm inside its target): unmount everything below
// it first, deepest first, then delete without crossing into any other filesystem.
import { existsSync, readFileSync } from 'node:fs';
import { run, runChecked } from './exec.js';
import type { Stage } from '../errors.js';

/** Pure: mount points strictly below `dir` in a mountinfo text, deepest first. */
export function mountsBelow(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && m.startsWith(prefix))
    .sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

export async function removeTree(dir: string, stage: Stage): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of mountsBelow(readFileSync('/proc/self/mountinfo', 'utf8'), dir)) {
    // Lazy: detached at once even if something still has a file open there.
    await run(['umount', '--lazy', m], { stage });
  }
  const left = mountsBelow(readFileSync('/proc/self/mountinfo', 'utf8'), dir);
  if (left.length) throw new Error(`cannot remove ${dir}: still mounted below it: ${left.join(', ')}`);
  await runChecked(['rm', '-rf', '--one-file-system', dir], { stage });
}
