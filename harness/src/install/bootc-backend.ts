// Pure: which of bootc's two install backends an image gets, and what root the ostree backend
// then boots, both read from the image's own files the way bootc and ostree read them.
//
// The backend (bootc-dev/bootc, crates/lib/src/install.rs prepare_install): ostree unless
// `--composefs-backend` is passed, or the image's kernel is a UKI, which makes the composefs
// backend required ("composefs_required = kernel.unified"); crates/lib/src/kernel.rs
// find_kernel calls a kernel unified when `/boot/EFI/Linux/*.efi` exists in the image.
// docs/src/experimental-composefs.md: sealed images carry that UKI; "There is a
// `--composefs-backend` option for `bootc install` to explicitly select a composefs backend
// apart from sealed images". bootc reads the UKI only from the container it runs in; with
// --source-imgref (the installer VM) it does not look, so the harness decides the same way and
// passes the flag itself.
//
// The ostree backend's root (ostreedev/ostree src/libotcore/otcore-prepare-root.c
// otcore_load_config, otcore_load_rootfs_config): ostree-prepare-root reads
// `prepare-root.conf` from usr/lib/ostree then etc/ostree, each found file loaded afresh over
// the last (g_key_file_load_from_data), and `[composefs] enabled`: "signed" (verity required,
// digest from the commit's signed metadata), "verity" (verity required), else a tristate
// defaulting to no: "maybe", or a boolean yes/true/1 | no/false/0 (src/libotutil
// ot-keyfile-utils.c _ostree_parse_tristate). With composefs on, / is an overlay over the
// deployment's `.ostree.cfs` EROFS, which ostree-sysroot-deploy.c writes at deploy time.

export type BootcBackend = 'ostree' | 'composefs';
/** What the user or profile asks for: the image decides (`auto`), or one is forced. */
export type BootcBackendChoice = 'auto' | BootcBackend;

export interface BackendDecision {
  backend: BootcBackend;
  /** One line: why this backend. */
  why: string;
}

/** The UKIs bootc would find: `*.efi` directly in the image's /boot/EFI/Linux. */
export function ukisOf(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith('.efi')).sort();
}

export function bootcBackendOf(choice: BootcBackendChoice, image: { ukis: readonly string[] }): BackendDecision {
  if (choice !== 'auto') return { backend: choice, why: `${choice} backend asked for` };
  if (image.ukis.length) return { backend: 'composefs', why: `the image's kernel is a UKI (/boot/EFI/Linux/${image.ukis[0]}): bootc requires its composefs backend` };
  return { backend: 'ostree', why: "the image has no UKI in /boot/EFI/Linux: bootc's default ostree backend" };
}

export type PrepareRootComposefs = 'yes' | 'no' | 'maybe' | 'verity' | 'signed';

export interface PrepareRootConfig {
  composefs: PrepareRootComposefs;
  /** The file whose [composefs] enabled decided, or undefined (no file: ostree's default, no). */
  from?: string;
}

/** A GKeyFile's groups and keys as GLib reads them: `[group]`, `key = value` (spaces around `=`
 *  and at the ends dropped), `#` comment lines; a later key of the same name wins. */
export function parseKeyFile(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let group: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const g = /^\[([^\]]+)\]$/.exec(line);
    if (g) {
      group = out[g[1]!] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && group) group[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

const BOOLEANS: Record<string, 'yes' | 'no'> = { yes: 'yes', true: 'yes', '1': 'yes', no: 'no', false: 'no', '0': 'no' };

/** ostree's reading of the image's prepare-root.conf files, given lowest precedence first
 *  (usr/lib/ostree, then etc/ostree). Throws with the file's name on a value ostree refuses. */
export function readPrepareRoot(files: readonly { path: string; text: string }[]): PrepareRootConfig {
  const last = files.at(-1);
  if (!last) return { composefs: 'no' };
  const raw = parseKeyFile(last.text).composefs?.enabled;
  if (raw === undefined) return { composefs: 'no', from: last.path };
  if (raw === 'signed' || raw === 'verity' || raw === 'maybe') return { composefs: raw, from: last.path };
  const b = BOOLEANS[raw];
  if (!b) throw new Error(`${last.path}: [composefs] enabled = ${JSON.stringify(raw)} is not a value ostree takes (signed, verity, maybe, yes/true/1, no/false/0)`);
  return { composefs: b, from: last.path };
}

/** What tier 4 expects of an ostree-backend root from the image's prepare-root.conf:
 *  a composefs root whose fs-verity is required (signed, verity) or optional (yes), or none.
 *  "maybe" promises nothing (composefs only if the deployment happens to have .ostree.cfs). */
export function ostreeRootExpectation(c: PrepareRootConfig): { verity: 'required' | 'optional' } | null {
  if (c.composefs === 'signed' || c.composefs === 'verity') return { verity: 'required' };
  if (c.composefs === 'yes') return { verity: 'optional' };
  return null;
}
