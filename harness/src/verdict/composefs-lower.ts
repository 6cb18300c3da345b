// Which EROFS image is the lower layer of a composefs root, judged from inside the guest.
// libcomposefs (mount.composefs) and composefs-rs mount the EROFS image, stack the overlay on
// it and detach it: the overlay alone holds it then, and mountinfo names only a path that is
// gone (libcomposefs: lowerdir=/tmp/.composefs.XXXXXX; libcomposefs/lcfs-mount.c,
// lcfs_mount_erofs_ovl). So the lower layer is identified by what it is: the candidate image
// (a loop device's backing file where the kernel needed one, before 6.12; the digest's file in
// the composefs repository, /sysroot/composefs/images/<digest>, otherwise), mounted read-only
// on its own, must show exactly the tree / shows. Pure builders and judges; the spec runs them.

/** The composefs repository's image for a digest (bootc's composefs backend and our direct installer). */
export function composefsImagePath(digest: string): string {
  return `/sysroot/composefs/images/${digest}`;
}

/** The overlay's first (uppermost) lower layer, from its options: `lowerdir=A:B` or the first `lowerdir+=A`. */
export function firstLower(options: readonly string[]): string | undefined {
  const o = options.find((x) => /^lowerdir\+?=/.test(x));
  return o?.replace(/^lowerdir\+?=/, '').split(':')[0] || undefined;
}

export interface ErofsSuperblock {
  /** Its name under /sys/fs/erofs (a block device's name, or the superblock id of a file-backed mount). */
  name: string;
  /** The loop device's backing file, when the EROFS sits on a loop device. */
  backingFile?: string;
}

/** Shell: one line per EROFS superblock alive, "NAME<TAB>BACKING-FILE" (empty when not on a loop device). */
export const LIST_EROFS_SUPERBLOCKS =
  "for s in /sys/fs/erofs/*; do n=${s##*/}; [ \"$n\" = features ] && continue; [ -e \"$s\" ] || continue; printf '%s\\t%s\\n' \"$n\" \"$(cat /sys/block/$n/loop/backing_file 2>/dev/null)\"; done";

/** Pure: LIST_EROFS_SUPERBLOCKS's output. */
export function parseErofsSuperblocks(out: string): ErofsSuperblock[] {
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [name = '', backing = ''] = l.split('\t');
      return { name: name.trim(), ...(backing.trim() ? { backingFile: backing.trim() } : {}) };
    });
}

/**
 * Pure: the files that may be /'s EROFS lower layer, most telling first: the backing files of
 * loop-backed EROFS superblocks (the kernel's own record of what it reads), then the image the
 * digest names in the composefs repository (a file-backed EROFS, 6.12 on, has no such record).
 */
export function lowerCandidates(superblocks: readonly ErofsSuperblock[], digest: string | undefined): string[] {
  const out: string[] = [];
  for (const s of superblocks) if (s.backingFile && !s.backingFile.endsWith(' (deleted)') && !out.includes(s.backingFile)) out.push(s.backingFile);
  if (digest) {
    const p = composefsImagePath(digest);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** Quotes a path for the guest shell. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Shell: mounts `image` read-only as EROFS on a fresh directory and lists both trees, / and the
 * image (about 45 s for 12,000 entries under TCG, a second or two with KVM), each pruned at /'s mount points (/etc, /var, /sysroot, /proc... are other file systems
 * over the image's directories), every entry with its type, mode, owner, size, mtime and link
 * target; prints "tree root COUNT SHA256", "tree image COUNT SHA256" and the first lines of
 * their difference. Nothing stays mounted.
 */
export function compareTreesScript(image: string, mountpoints: readonly string[]): string {
  const prune = mountpoints.filter((m) => m !== '/').map((m) => `-path ${sq(`.${m}`)}`);
  // libcomposefs puts 256 whiteouts (character devices 0:0 named 00..ff) at the image's root,
  // which the overlay hides (libcomposefs/lcfs-writer-erofs.c, add_overlay_whiteouts): not part of the tree / shows.
  prune.push("\\( -path './[0-9a-f][0-9a-f]' -type c \\)");
  const pruneExpr = `\\( ${prune.join(' -o ')} \\) -prune -o`;
  return [
    'set -eu',
    'd=$(mktemp -d /run/bh-lower.XXXXXX)',
    `trap 'umount "$d" 2>/dev/null || true; rm -rf "$d" "$d.root" "$d.image"' EXIT`,
    `mount -t erofs -o ro ${sq(image)} "$d"`,
    `list() { (cd "$1" && find . -xdev ${pruneExpr} -printf '%y %m %U %G %s %T@ %p -> %l\\n' | LC_ALL=C sort); }`,
    'list / > "$d.root"',
    'list "$d" > "$d.image"',
    'for w in root image; do printf "tree %s %s %s\\n" "$w" "$(wc -l < "$d.$w")" "$(sha256sum < "$d.$w" | cut -d" " -f1)"; done',
    'diff "$d.root" "$d.image" | head -n 20 || true',
  ].join('\n');
}

export interface TreeComparison {
  rootEntries: number;
  imageEntries: number;
  same: boolean;
  /** The first lines of the difference (diff: "<" only in /, ">" only in the image). */
  diff: string[];
}

/** Pure: compareTreesScript's output; undefined when it printed no tree lines (the script failed). */
export function parseTreeComparison(out: string): TreeComparison | undefined {
  const tree = (w: string) => new RegExp(`^tree ${w} (\\d+) ([0-9a-f]{64})$`, 'm').exec(out);
  const root = tree('root');
  const image = tree('image');
  if (!root || !image) return undefined;
  const diff = out.split('\n').filter((l) => /^[<>]/.test(l));
  return { rootEntries: Number(root[1]), imageEntries: Number(image[1]), same: root[2] === image[2] && root[1] === image[1], diff };
}

/** Pure: why the image is not /'s lower layer, or undefined when it is (a tree of some size, the same on both sides). */
export function lowerMismatch(image: string, c: TreeComparison): string | undefined {
  // An empty or near-empty listing would match anything as trivially: a root has thousands of entries.
  if (c.rootEntries < 100) return `/ lists only ${c.rootEntries} entries: nothing to compare ${image} with`;
  if (c.same) return undefined;
  return `${image} is not the lower layer of /: its tree (${c.imageEntries} entries) differs from /'s (${c.rootEntries}):\n${c.diff.join('\n')}`;
}
