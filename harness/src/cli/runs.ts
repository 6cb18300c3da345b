// The operator's commands for runs and their VMs: list, ssh, suites, stop; and the disk cache.
import { UsageError } from '../errors.js';
import { diskCacheLimit, listDiskCache, pruneDiskCache } from '../install/disk-cache.js';
import { sshToKept, stopRuns } from '../run/kept.js';
import { listRuns } from '../run/registry.js';
import { reapAbandoned } from '../run/reap.js';
import { rerunSuites } from '../run/suites.js';
import { parse, parseTiers } from './args.js';
import { EXIT } from './exit-codes.js';

export function cmdList(args: string[]): number {
  const { positionals } = parse(args, {});
  if (positionals.length) throw new UsageError('list takes no arguments');
  const rows = listRuns();
  if (!rows.length) {
    process.stdout.write('no runs\n');
    return EXIT.passed;
  }
  const lines = rows.map((e) => [e.runId, e.state, e.record?.kept ? `127.0.0.1:${e.record.kept.sshPort}` : '-', e.record?.source ?? '?']);
  const w = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i]!.length), ['RUN', 'STATE', 'SSH'][i]!.length));
  for (const l of [['RUN', 'STATE', 'SSH', 'SOURCE'], ...lines]) process.stdout.write(`${l[0]!.padEnd(w[0]!)}  ${l[1]!.padEnd(w[1]!)}  ${l[2]!.padEnd(w[2]!)}  ${l[3]}\n`);
  return EXIT.passed;
}

export async function cmdSsh(args: string[], signal: AbortSignal): Promise<number> {
  const { positionals } = parse(args, {});
  const [name, ...command] = positionals;
  if (!name) throw new UsageError('ssh needs RUN (a kept run: see "bootc-harness list")');
  return sshToKept(name, command, signal);
}

export async function cmdSuites(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { tier: { type: 'string' }, grep: { type: 'string' }, profile: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('suites needs one RUN (a kept run: see "bootc-harness list")');
  if (values.grep !== undefined) {
    try {
      new RegExp(values.grep as string);
    } catch (e) {
      throw new UsageError(`--grep: ${(e as Error).message}`);
    }
  }
  const r = await rerunSuites(positionals[0]!, {
    tiers: parseTiers(values.tier as string | undefined),
    tiersExplicit: values.tier !== undefined,
    ...(values.grep !== undefined ? { grep: values.grep as string } : {}),
    ...(values.profile !== undefined ? { profile: values.profile as string } : {}),
    signal,
  });
  const n = (st: string) => r.tests.filter((t) => t.status === st).length;
  const tiers = Object.entries(r.tiers).map(([t, st]) => `${t} ${st}`).join(', ');
  if (r.message) process.stderr.write(`bootc-harness: ${r.message}\n`);
  process.stdout.write(`${r.exitCode === 0 ? 'PASSED' : 'FAILED'}: suites against ${r.runId}: ${n('passed')} passed, ${n('failed') + n('timedOut')} failed, ${n('skipped')} skipped (${tiers})\nreport: ${r.dir}\n`);
  return r.exitCode;
}

/** `clean`: what runs killed without their teardown left (their owner is gone; kept VMs stay). */
export async function cmdClean(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length) throw new UsageError('clean takes no arguments: it cleans up after every run whose owner is gone');
  const lines = await reapAbandoned();
  process.stdout.write(lines.length ? lines.join('\n') + '\n' : 'nothing to clean up\n');
  return EXIT.passed;
}

export async function cmdStop(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { all: { type: 'boolean' } });
  if (values.all ? positionals.length !== 0 : positionals.length !== 1) throw new UsageError('stop needs one RUN, or --all');
  const lines = await stopRuns(values.all ? 'all' : positionals[0]!);
  process.stdout.write(lines.length ? lines.join('\n') + '\n' : 'no kept runs\n');
  return EXIT.passed;
}

export function cmdCache(args: string[]): number {
  const { positionals } = parse(args, {});
  const [verb, ...extra] = positionals;
  if ((verb !== 'list' && verb !== 'prune') || extra.length) throw new UsageError('usage: bootc-harness cache list|prune');
  if (verb === 'prune') {
    const r = pruneDiskCache();
    process.stdout.write(`removed ${r.removed.length} installed disks${r.busy.length ? `; ${r.busy.length} in use, kept: ${r.busy.join(', ')}` : ''}\n`);
    return EXIT.passed;
  }
  const entries = listDiskCache();
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  for (const e of entries) {
    const i = e.inputs;
    process.stdout.write(`${e.key}  ${gib(e.bytes).padStart(6)} GiB  used ${e.lastUsed.toISOString()}  ${i.installer} ${i.rootLayout} luks=${i.luks} placement=${i.placement} image ${i.imageId.slice(0, 12)}\n`);
  }
  process.stdout.write(`${entries.length} installed disks, ${gib(entries.reduce((n, e) => n + e.bytes, 0))} GiB of ${gib(diskCacheLimit())} GiB (BOOTC_HARNESS_DISK_CACHE_GIB)\n`);
  return EXIT.passed;
}

