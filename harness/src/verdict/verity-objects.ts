// composefs.verity with `optional`, judged: wherever the file system holding the composefs
// objects can carry fs-verity, every object has it; a tool that fails, or an objects directory
// that is not there, fails the check instead of passing it empty-handed.

export interface ObjectsListing {
  /** `find OBJECTS -type f -exec lsattr {} +`: exit status, output. */
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface VerityObjectsVerdict {
  /** Set when nothing can be asserted: the file system cannot hold fs-verity. */
  skip?: string;
  problems: string[];
  withVerity: number;
  without: string[];
}

/** Pure: does this file system carry fs-verity? ext4 and f2fs by their `verity` feature, btrfs always (5.15 on). */
export function fsSupportsVerity(fstype: string, features: string): boolean {
  if (fstype === 'btrfs') return true;
  if (fstype === 'ext4' || fstype === 'f2fs') return /(^|[\s,])verity($|[\s,])/.test(features);
  return false;
}

/** Pure: `tune2fs -l`'s "Filesystem features:" line. */
export function ext4Features(tune2fs: string): string {
  return /^Filesystem features:\s*(.*)$/m.exec(tune2fs)?.[1]?.trim() ?? '';
}

/** Pure: the judgement over the objects' lsattr flags ('V' is fs-verity). */
export function verityObjectsVerdict(objects: string, listing: ObjectsListing, fstype: string, features: string): VerityObjectsVerdict {
  const lines = listing.stdout.split('\n').map((l) => /^(\S+)\s+(.+)$/.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null);
  const without = lines.filter((m) => !m[1]!.includes('V')).map((m) => m[2]!);
  const withVerity = lines.length - without.length;
  const problems: string[] = [];
  if (listing.exitCode !== 0) problems.push(`listing the fs-verity flags of ${objects} failed (exit ${listing.exitCode}): ${listing.stderr.trim().split('\n').slice(0, 3).join('; ') || 'no message'}`);
  else if (lines.length === 0) problems.push(`${objects} holds no objects: a composefs root's file contents live there`);
  if (problems.length) return { problems, withVerity, without };
  if (!fsSupportsVerity(fstype, features)) {
    return { skip: `the ${fstype || 'unknown'} file system holding ${objects} cannot carry fs-verity (features: ${features || 'none'}): optional verity has nothing to assert`, problems, withVerity, without };
  }
  if (without.length) problems.push(`${without.length} of ${lines.length} objects in ${objects} lack fs-verity on a ${fstype} that supports it, e.g. ${without.slice(0, 3).join(', ')}`);
  return { problems, withVerity, without };
}
