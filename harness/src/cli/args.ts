// Command-line parsing shared by the commands: flags, tiers, test-install's options.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { ALL_TIERS, type TestInstallOptions } from '../run/options.js';
import { emitter } from '../report/events.js';
import { terminalFor, type Terminal } from './terminal.js';
import { CONFIG_FILE, checkSuiteDirs, readCallerConfig } from '../run/caller-config.js';

export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

export function parseTiers(value: string | undefined): number[] {
  const { tiers, user } = parseTierSpec(value);
  if (user) throw new UsageError(`tier "user" is the caller's suites: give --suites DIR (test-install, gate) instead`);
  return tiers;
}

/** Tiers as written on the command line or in bootc-harness.toml: numbers, and "user" for the caller's suites. */
export function parseTierSpec(value: string | undefined): { tiers: number[]; user: boolean } {
  if (value === undefined) return { tiers: [...ALL_TIERS], user: false };
  const all = value.split(',').map((s) => s.trim());
  const user = all.includes('user');
  const tiers = parseNumbered(all.filter((p) => p !== 'user'));
  return { tiers, user };
}

function parseNumbered(all: string[]): number[] {
  const parts = all.map((s) => s.replace(/^tier/, ''));
  const tiers = parts.map((p) => {
    if (!/^\d+$/.test(p) || !ALL_TIERS.includes(Number(p) as (typeof ALL_TIERS)[number])) throw new UsageError(`unknown tier "${p}" (tiers are ${ALL_TIERS.join(', ')})`);
    return Number(p);
  });
  return [...new Set(tiers)].sort((a, b) => a - b);
}

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  // A value that starts with a dash (--tier -1) is still the option's value, judged by its
  // own check, not an "ambiguous option".
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.startsWith('--') ? args[i]!.slice(2) : '';
    if (options[name]?.type === 'string' && args[i + 1]?.startsWith('-')) joined.push(`${args[i]}=${args[++i]}`);
    else joined.push(args[i]!);
  }
  try {
    return parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

/** A progress line on stderr, timestamped (CI logs and pipes read it later). */
export const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} bootc-harness: ${line}\n`);

export const INSTALL_FLAGS = {
  profile: { type: 'string' },
  installer: { type: 'string' },
  accel: { type: 'string' },
  keep: { type: 'boolean' },
  report: { type: 'string' },
  luks: { type: 'string' },
  'fresh-tpm': { type: 'boolean' },
  placement: { type: 'string' },
  'bootc-backend': { type: 'string' },
  'no-disk-cache': { type: 'boolean' },
  'no-pre': { type: 'boolean' },
  json: { type: 'boolean' },
  suites: { type: 'string', multiple: true },
} as const;

/** test-install's options from its flags (gate takes the same, with --require for --tier), and
 *  the terminal its progress goes to (the caller closes it when the run returns). */
export function installOptions(cmd: string, values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[], tiers: string | undefined, signal: AbortSignal): TestInstallOptions & { terminal: Terminal } {
  if (positionals.length > 1) throw new UsageError(`${cmd} takes one SOURCE, got ${positionals.length}`);
  const json = Boolean(values.json);
  // The caller's repository (its bootc-harness.toml) fills what the flags leave out.
  const config = readCallerConfig();
  const tierText = tiers ?? (cmd === 'gate' ? config?.require : config?.tiers);
  const spec = parseTierSpec(tierText);
  const suitesFlag = (values.suites as string[] | undefined) ?? [];
  const userSuites = suitesFlag.length ? checkSuiteDirs(suitesFlag, '--suites') : checkSuiteDirs(config?.suites ?? [], `${config?.file} suites:`);
  if (spec.user && !userSuites.length) throw new UsageError(`tier "user" needs the caller's suites: --suites DIR, or suites = [...] in ${CONFIG_FILE}`);
  if (!spec.tiers.length && !userSuites.length) throw new UsageError('no tier to run');
  const profile = (values.profile as string | undefined) ?? config?.profile;
  const flags = {
    source: positionals[0],
    profile,
    ...(values.profile === undefined && config?.profile !== undefined ? { profileReason: `named by ${config.file}` } : {}),
    tiers: spec.tiers,
    tiersExplicit: tierText !== undefined,
    userSuites,
    installer: oneOf('installer', values.installer as string | undefined, ['auto', 'bootc', 'direct'] as const, 'auto'),
    accel: oneOf('accel', values.accel as string | undefined, ['auto', 'kvm', 'tcg'] as const, 'auto'),
    keep: Boolean(values.keep),
    reportDir: values.report as string | undefined,
    ...(values.luks !== undefined ? { luks: oneOf('luks', values.luks as string, ['tpm2', 'none'] as const, 'none') } : {}),
    freshTpm: Boolean(values['fresh-tpm']),
    diskCache: !values['no-disk-cache'],
    pre: !values['no-pre'],
    json,
    ...(values.placement !== undefined ? { placement: oneOf('placement', values.placement as string, ['host', 'vm'] as const, 'host') } : {}),
    ...(values['bootc-backend'] !== undefined ? { bootcBackend: oneOf('bootc-backend', values['bootc-backend'] as string, ['auto', 'ostree', 'composefs'] as const, 'auto') } : {}),
    signal,
  };
  // Once the flags are known good: a usage error starts no live view.
  const terminal = terminalFor(json);
  const say = emitter(terminal.events);
  // With --json, log lines are events too.
  const log = json ? (line: string) => (terminal.log(line), say({ event: 'log', line })) : terminal.log;
  return { ...flags, events: terminal.events, log, terminal };
}
