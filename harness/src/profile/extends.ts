// A profile file as the schema sees it: its own keys over those of the profile it
// `extends` (a shipped profile by name, or a file by a path relative to this one), so a
// caller's profile says only what differs. Objects merge key by key; lists and plain values
// (null included) replace: a list is one requirement, not items to add to another's.
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UsageError } from '../errors.js';
import { PROFILES_DIR } from '../util/paths.js';
import { listProfiles } from './list.js';
import { NAME } from './schema.js';

/** How many profiles one may stand on: deeper than this is a mistake, not a design. */
const MAX_DEPTH = 8;

/** Pure: `--profile X` names a file (a path or a .json/.toml name), not a shipped profile. */
export function isProfilePath(arg: string): boolean {
  return arg.includes('/') || /\.(json|toml)$/i.test(arg);
}

/** Pure: a profile file's name: its stem. */
export function profileNameOf(file: string): string {
  return basename(file, extname(file));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: `over` on `base`: objects merged key by key, everything else (lists, null) replaced. */
export function mergeProfile(base: Record<string, Json>, over: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(base[k]) ? mergeProfile(base[k], v) : v;
  return out;
}

/** A profile file parsed, JSON or TOML by its extension; `who` names it in the one-line error. */
async function readProfileFile(file: string, who: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`profile "${who}": cannot read ${file}${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': a directory' : `: ${code ?? (e as Error).message}`}`);
  }
  const toml = /\.toml$/i.test(file);
  try {
    return toml ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    const why = (e as Error).message.replace(/\s+/g, ' ');
    throw new UsageError(`profile "${who}": ${file} is not valid ${toml ? 'TOML' : 'JSON'}: ${why}`);
  }
}

/**
 * The raw profile of `file` with its `extends` chain merged in, `extends` and the bases'
 * own `name`/`$schema` left out (they describe the base file, not this one). Refuses a cycle
 * and a chain deeper than MAX_DEPTH, naming the chain.
 */
export async function resolveExtends(file: string, who: string, chain: string[] = [], profilesDir = PROFILES_DIR): Promise<unknown> {
  const real = await realpath(file).catch(() => resolve(file));
  if (chain.includes(real)) throw new UsageError(`profile "${who}": extends goes round in a circle: ${[...chain, real].map((f) => basename(f)).join(' -> ')}`);
  if (chain.length >= MAX_DEPTH) throw new UsageError(`profile "${who}": extends is more than ${MAX_DEPTH} profiles deep: ${chain.map((f) => basename(f)).join(' -> ')}`);
  const raw = await readProfileFile(file, who);
  if (!isObject(raw) || raw.extends === undefined) return raw;
  const base = raw.extends;
  if (typeof base !== 'string' || !base.trim()) throw new UsageError(`profile "${who}": extends must be a profile name or a relative path, found ${JSON.stringify(base)}`);
  let baseFile: string;
  if (isProfilePath(base)) baseFile = resolve(dirname(file), base);
  else {
    if (!NAME.test(base)) throw new UsageError(`profile "${who}": extends must be a profile name or a relative path, found ${JSON.stringify(base)}`);
    baseFile = resolve(profilesDir, `${base}.json`);
    const known = await listProfiles(profilesDir);
    if (!known.includes(base)) throw new UsageError(`profile "${who}": extends unknown profile ${JSON.stringify(base)} (known: ${known.join(', ') || 'none'})`);
  }
  const resolved = await resolveExtends(baseFile, who, [...chain, real], profilesDir);
  if (!isObject(resolved)) throw new UsageError(`profile "${who}": extends ${JSON.stringify(base)}, which is not a JSON object`);
  const { name: _n, $schema: _s, extends: _e, ...inherited } = resolved;
  const { extends: _own, ...own } = raw;
  return mergeProfile(inherited, own);
}
