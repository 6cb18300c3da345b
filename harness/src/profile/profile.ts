// VM profiles: what each image is, how to install it, what it must have.
// One JSON file per image in vm-images/ (name = file stem). Validation is hand-written
// and table-driven: every key has a check and, when optional, a default; unknown keys
// are refused at every level. A bad profile is bad input: one UsageError line that
// names the profile, the key path and what was found.
import { readFile, readdir } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { PROFILES_DIR } from '../util/paths.js';
import { CONSOLE_PATTERNS } from '../vm/console-patterns.js';
import { Invalid, bad, bool, count, isPlainObject, joinPath, listOf, nullOr, object, oneOf, optional, positiveInt, required, text, withDefault, type Check, type Field } from './checks.js';

export type KernelTier = 'rhel9' | 'pre-6.15' | 'default';
export type Installer = 'auto' | 'bootc' | 'direct';
export type Verity = 'required' | 'optional' | 'none';

export interface Profile {
  name: string;
  description: string;
  /** A local fixture (fixtures/<name>) or an image reference (upstream targets). */
  source: { fixture: string } | { image: string };
  installer: Installer;
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
  vm: { memoryMiB: number; cpus: number; diskGiB: number; scratchDisks: number };
  /** matrix: a CI matrix row runnable here (local fixtures). */
  ci: { matrix: boolean; runner?: string };
}

export const DEFAULT_PROFILE = 'trixie';

export const KERNEL_TIERS: readonly KernelTier[] = ['rhel9', 'pre-6.15', 'default'];

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

// ---------------------------------------------------------------------------------
// The vocabulary of a profile.

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const UNIT = /^[A-Za-z0-9:_.@\\-]+\.(service|target|socket|timer|mount|path)$/;
const CAP_CLAUSE = '(?:all|cap_[a-z0-9_]+(?:,cap_[a-z0-9_]+)*)[=+-][eip]*';
const CAPS = new RegExp(`^${CAP_CLAUSE}(?: ${CAP_CLAUSE})*$`);
const RELEASE = /^\d+\.\d+(\.\d+)?$/;
const IMAGE_REF = /^[a-z0-9][^\s]*$/;
const CONSOLE_IDS = CONSOLE_PATTERNS.map((p) => p.id);

const absPath: Check<string> = (v, at) => {
  if (typeof v !== 'string' || !v.startsWith('/') || v === '/' || posix.normalize(v) !== v || v.endsWith('/')) {
    throw bad(at, 'must be an absolute path', v);
  }
  return v;
};

const capText = text(CAPS, 'capability text like "cap_net_raw=ep"');

const capMap: Check<Record<string, string>> = (v, at) => {
  if (!isPlainObject(v)) throw bad(at, 'must be an object of absolute path -> capability text', v);
  const out: Record<string, string> = {};
  for (const [path, caps] of Object.entries(v)) {
    absPath(path, `${at} key`);
    out[path] = capText(caps, `${at}[${JSON.stringify(path)}]`);
  }
  return out;
};

const source: Check<Profile['source']> = (v, at) => {
  if (!isPlainObject(v)) throw bad(at, 'must be an object with fixture or image', v);
  for (const key of Object.keys(v)) {
    if (key !== 'fixture' && key !== 'image') throw new Invalid(`unknown key ${joinPath(at, key)}`);
  }
  if (Object.keys(v).length !== 1) throw bad(at, 'must have exactly one of fixture, image', v);
  if (Object.hasOwn(v, 'fixture')) return { fixture: text(NAME, 'a fixture name')(v.fixture, joinPath(at, 'fixture')) };
  return { image: text(IMAGE_REF, 'an image reference')(v.image, joinPath(at, 'image')) };
};

const unit = text(UNIT, 'a unit name ending in .service, .target, .socket, .timer, .mount or .path');

const expectSection = object<Profile['expect']>({
  suid: withDefault(listOf(absPath), () => []),
  caps: withDefault(capMap, () => ({})),
  readonlyUsr: withDefault(bool, () => false),
  bootc: withDefault(bool, () => false),
  zfs: withDefault(bool, () => false),
  tailscaled: withDefault(bool, () => false),
  services: withDefault(listOf(unit), () => []),
  enabledUnits: withDefault(listOf(unit), () => []),
  luks: withDefault(nullOr(object<{ tpm2: boolean }>({ tpm2: required(bool) }), 'an object'), () => null),
  composefs: withDefault(
    nullOr(object<{ verity: Verity }>({ verity: required(oneOf<Verity>(['required', 'optional', 'none'])) }), 'an object'),
    () => null,
  ),
});

const consoleSection = object<Profile['console']>({
  warnOnly: withDefault(listOf(oneOf(CONSOLE_IDS)), () => []),
});

const budgetsSection = object<Profile['budgets']>({
  imageMs: withDefault(positiveInt, () => 600_000),
  diskMs: withDefault(positiveInt, () => 600_000),
  bootMs: withDefault(positiveInt, () => 300_000),
  testMs: withDefault(positiveInt, () => 120_000),
  shutdownMs: withDefault(positiveInt, () => 60_000),
});

const vmSection = object<Profile['vm']>({
  memoryMiB: withDefault(positiveInt, () => 2048),
  cpus: withDefault(positiveInt, () => 2),
  diskGiB: withDefault(positiveInt, () => 6),
  scratchDisks: withDefault(count(4), () => 1),
});

const ciSection = object<Profile['ci']>({
  matrix: withDefault(bool, () => false),
  runner: optional(text(/^\S+$/, 'a runner label')),
});

/** A section that may be left out: then it is the section with every key left out. */
const section = <T>(check: Check<T>): Field<T> => withDefault(check, () => check({}, ''));

const schema = object<Omit<Profile, 'name'> & { name: string | undefined }>({
  // Optional in the file; when present it must match the file stem (checked below).
  name: optional(text(NAME, 'a profile name')),
  description: required(text(/\S/, 'a non-empty string')),
  source: required(source),
  installer: withDefault(oneOf<Installer>(['auto', 'bootc', 'direct']), () => 'auto'),
  kernel: required(
    object<Profile['kernel']>({
      tier: optional(oneOf(KERNEL_TIERS)),
      release: optional(text(RELEASE, 'a version prefix like "6.12"')),
    }),
  ),
  expect: section(expectSection),
  console: section(consoleSection),
  budgets: section(budgetsSection),
  vm: section(vmSection),
  ci: section(ciSection),
});

/**
 * Validates a parsed profile and fills defaults for omitted optional keys.
 * Throws a UsageError whose one-line message names the profile, the key path and
 * what was found, e.g. `profile "trixie": expect.zfs must be a boolean, found "yes"`.
 */
export function validateProfile(raw: unknown, name: string): Profile {
  try {
    if (!isPlainObject(raw)) throw bad('the profile', 'must be a JSON object', raw);
    const { name: declared, ...rest } = schema(raw, '');
    if (declared !== undefined && declared !== name) throw bad('name', `must match the file name "${name}"`, declared);
    // No tier: any kernel (the generic profile). A release pins one, so it needs its tier.
    if (rest.kernel.release !== undefined && rest.kernel.tier === undefined) {
      throw new Invalid(`kernel.release "${rest.kernel.release}" needs kernel.tier ("${kernelTierOf(rest.kernel.release)}")`);
    }
    if (rest.kernel.release !== undefined && rest.kernel.tier !== undefined) {
      const tier = kernelTierOf(rest.kernel.release);
      if (tier !== rest.kernel.tier) {
        throw new Invalid(`kernel.release "${rest.kernel.release}" is in kernel tier ${tier}, but kernel.tier is "${rest.kernel.tier}"`);
      }
    }
    return { name, ...rest };
  } catch (e) {
    if (e instanceof Invalid) throw new UsageError(`profile "${name}": ${e.message}`);
    throw e;
  }
}

/** Profile names (file stems of vm-images/*.json), sorted. */
export async function listProfiles(dir: string = PROFILES_DIR): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((n) => NAME.test(n))
    .sort();
}

/** Reads and validates vm-images/<name>.json; an unknown name lists the known ones. */
export async function loadProfile(name: string, dir: string = PROFILES_DIR): Promise<Profile> {
  const known = await listProfiles(dir);
  if (!known.includes(name)) {
    throw new UsageError(`unknown profile ${JSON.stringify(name)} (known: ${known.join(', ') || 'none'})`);
  }
  const file = resolve(dir, `${name}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const why = (e as Error).message.replace(/\s+/g, ' ');
    throw new UsageError(`profile "${name}": ${file} is not valid JSON: ${why}`);
  }
  return validateProfile(raw, name);
}
