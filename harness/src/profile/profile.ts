// VM profiles: what each image is, how to install it, what it must have.
// One JSON file per image in vm-images/ (name = file stem). The schema (schema.ts) gives
// every key its check and, when optional, its default; unknown keys are refused at every
// level. A bad profile is bad input: one UsageError line that names the profile, the key
// path and what was found.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { PROFILES_DIR } from '../util/paths.js';
import { INSTALLERS, KERNEL_TIERS, NAME, NETWORKS, ROOT_LAYOUTS, VERITY, profileSchema } from './schema.js';
import { describeIssues, found } from './schema-issue.js';
import { isProfilePath, profileNameOf, resolveExtends } from './extends.js';
import { listProfiles } from './list.js';

export { listProfiles };

export { KERNEL_TIERS };
export type KernelTier = (typeof KERNEL_TIERS)[number];
export type Installer = (typeof INSTALLERS)[number];
export type Verity = (typeof VERITY)[number];
export type RootLayout = (typeof ROOT_LAYOUTS)[number];

export interface Profile {
  name: string;
  description: string;
  /** A local fixture (fixtures/<name>) or an image reference (upstream targets). */
  source: { fixture: string } | { image: string };
  installer: Installer;
  /** bootc's install backend: auto (the image decides: install/bootc-backend.ts) or forced. */
  bootcBackend: 'auto' | 'ostree' | 'composefs';
  /** The root layout the installer writes; absent: the image's label decides. One kernel's rootfs serves a plain and a composefs row. */
  rootLayout?: RootLayout;
  /** release: the expected version prefix, e.g. "6.12". */
  /** The kernel compat tier (and release prefix) the image must boot; none: any (the generic profile). */
  kernel: { tier?: KernelTier; release?: string };
  expect: {
    /** Absolute paths that must carry setuid or setgid in the guest. */
    suid: string[];
    /** Path -> capability text, e.g. "cap_net_raw=ep". */
    caps: Record<string, string>;
    readonlyUsr: boolean;
    /** bootc is present in the image. */
    bootc: boolean;
    zfs: boolean;
    /** systemd-modules-load loads zfs at every boot (modules-load.d), as custom-coreos does. */
    zfsLoadedAtBoot: boolean;
    tailscaled: boolean;
    /** Units that must be active. */
    services: string[];
    /** Units that must be enabled. */
    enabledUnits: string[];
    luks: null | { tpm2: boolean };
    composefs: null | { verity: Verity };
  };
  /** Ids of console-badness patterns downgraded to warnings. */
  console: { warnOnly: string[] };
  budgets: { imageMs: number; diskMs: number; bootMs: number; testMs: number; shutdownMs: number };
  /** scratchDisks: empty virtio disks (1 GiB each) for suites that need a block device, e.g. a throwaway zpool. */
  /** network: isolated (the default: the guest reaches nothing) or outbound (NAT out, never the host's loopback). */
  vm: { memoryMiB: number; cpus: number; diskGiB: number; scratchDisks: number; network: (typeof NETWORKS)[number] };
  /** matrix: a CI matrix row runnable here (local fixtures). */
  /** upstream: a row of the upstream matrix (an image from a registry, a runner with KVM and registry access). */
  ci: { matrix: boolean; runner?: string; upstream?: boolean };
}

export const DEFAULT_PROFILE = 'trixie';

/**
 * The compat tier of a kernel release ("5.14.0-570.el9", "6.12.43+deb13-amd64", "6.18"):
 * < 6.12 rhel9, 6.12 - 6.14 pre-6.15, >= 6.15 default. Throws a RangeError when no
 * major.minor can be read; callers judging guest output wrap it as they see fit.
 */
export function kernelTierOf(release: string): KernelTier {
  const m = /^\s*(\d+)\.(\d+)(?!\d)/.exec(release);
  if (!m) throw new RangeError(`cannot read a kernel version from ${JSON.stringify(release)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major < 6 || (major === 6 && minor < 12)) return 'rhel9';
  if (major === 6 && minor < 15) return 'pre-6.15';
  return 'default';
}

/**
 * Validates a parsed profile (schema.ts) and fills defaults for omitted optional keys.
 * Throws a UsageError whose one-line message names the profile, the key path and
 * what was found, e.g. `profile "trixie": expect.zfs must be a boolean, found "yes"`.
 */
export function validateProfile(raw: unknown, name: string): Profile {
  const bad = (what: string) => new UsageError(`profile "${name}": ${what}`);
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) throw bad(describeIssues(parsed.error, raw, 'the profile'));
  const { $schema: _, name: declared, extends: _base, ...rest } = parsed.data;
  if (declared !== undefined && declared !== name) throw bad(`name must match the file name "${name}", found ${found(declared)}`);
  // No tier: any kernel (the generic profile). A release pins one, so it needs its tier.
  const { tier, release } = rest.kernel;
  if (release !== undefined && tier === undefined) throw bad(`kernel.release "${release}" needs kernel.tier ("${kernelTierOf(release)}")`);
  if (release !== undefined && tier !== undefined && kernelTierOf(release) !== tier) {
    throw bad(`kernel.release "${release}" is in kernel tier ${kernelTierOf(release)}, but kernel.tier is "${tier}"`);
  }
  return { name, ...rest };
}


/**
 * Reads and validates a profile: a shipped one by name (vm-images/<name>.json; an unknown
 * name lists the known ones), or the caller's file by path (JSON or TOML; a relative path is
 * the cwd's), either with its `extends` chain merged in (extends.ts).
 */
export async function loadProfile(name: string, dir: string = PROFILES_DIR): Promise<Profile> {
  if (isProfilePath(name)) {
    const file = resolve(name);
    const stem = profileNameOf(file);
    if (!NAME.test(stem)) throw new UsageError(`profile file ${file}: its name "${stem}" must be lower-case letters, digits, ".", "_" or "-"`);
    return validateProfile(await resolveExtends(file, stem, [], dir), stem);
  }
  const known = await listProfiles(dir);
  if (!known.includes(name)) {
    throw new UsageError(`unknown profile ${JSON.stringify(name)} (known: ${known.join(', ') || 'none'})`);
  }
  return validateProfile(await resolveExtends(resolve(dir, `${name}.json`), name, [], dir), name);
}
