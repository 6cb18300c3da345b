// bootc-harness.toml at the caller's repository root (the cwd): what a run of that
// repository's image needs without flags, so `npx bootc-harness test-install output/snow`
// there just works. Flags given on the command line win over it. Paths in it are relative
// to the file. A bad file is bad input: one line naming the file and the key, exit 2.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { describeIssues } from '../profile/schema-issue.js';
import { isProfilePath } from '../profile/extends.js';

export const CONFIG_FILE = 'bootc-harness.toml';

const tierList = z.union([z.string(), z.array(z.union([z.int(), z.string()]))], { error: 'must be a list of tiers like [0, 1, "user"] or a string like "0,1,user"' });

const configSchema = z.strictObject(
  {
    profile: z.string({ error: 'must be a profile name or a path to a profile file' }).optional(),
    suites: z.array(z.string({ error: 'must be a directory' }), { error: 'must be a list of directories' }).optional(),
    tiers: tierList.optional(),
    require: tierList.optional(),
  },
  { error: 'must be a TOML table' },
);

export interface CallerConfig {
  file: string;
  /** A shipped profile name, or an absolute path to the caller's profile file. */
  profile?: string;
  /** Absolute directories of the caller's spec files. */
  suites: string[];
  /** "0,1,user": as --tier would be written. */
  tiers?: string;
  /** "0,user": as --require would be written. */
  require?: string;
}

/** The config of the repository at `dir` (the cwd), or undefined when it has none. */
export function readCallerConfig(dir = process.cwd()): CallerConfig | undefined {
  const file = resolve(dir, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = parseToml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file} is not valid TOML: ${(e as Error).message.replace(/\s+/g, ' ')}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${file}: ${describeIssues(parsed.error, raw, 'the file')}`);
  const c = parsed.data;
  const here = dirname(file);
  const list = (v: string | (number | string)[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v);
  const tiers = list(c.tiers);
  const require = list(c.require);
  return {
    file,
    ...(c.profile !== undefined ? { profile: isProfilePath(c.profile) ? resolve(here, c.profile) : c.profile } : {}),
    suites: (c.suites ?? []).map((d) => resolve(here, d)),
    ...(tiers !== undefined ? { tiers } : {}),
    ...(require !== undefined ? { require } : {}),
  };
}

/** The caller's suite directories, each checked: a missing one is a typo, not an empty suite. */
export function checkSuiteDirs(dirs: readonly string[], from: string): string[] {
  return dirs.map((d) => {
    const abs = resolve(d);
    if (!existsSync(abs)) throw new UsageError(`${from} ${d}: no such directory`);
    if (!statSync(abs).isDirectory()) throw new UsageError(`${from} ${d}: not a directory`);
    return abs;
  });
}
