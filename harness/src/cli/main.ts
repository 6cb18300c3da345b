// bootc-harness command line. Parsing and exit codes live here; the work lives in the stages.
import { existsSync, statSync } from 'node:fs';
import { imageId, importImage, removeImage } from '../image/buildah.js';
import { UsageError } from '../errors.js';
import { buildFixture } from '../rootfs-builder/build.js';
import { buildFixtures, defaultFixtureJobs, fixtureTable } from '../rootfs-builder/build-many.js';
import { listFixtures, loadRecipe } from '../rootfs-builder/recipe.js';
import { takeManifest } from '../image/manifest.js';
import { manifestOfImage, packageRootfs } from '../image/package.js';
import { checkSource, isImageReference, parseSource } from '../image/source.js';
import { requireTools } from '../util/tools.js';
import { testInstall } from '../run/test-install.js';
import { ciMatrix, matrixProfiles, matrixTable, runMatrix, upstreamProfiles } from '../run/matrix.js';
import type { Summary } from '../report/summary.js';
import { INSTALL_FLAGS, installOptions, log, oneOf, parse, parseTiers } from './args.js';
import { emitter } from '../report/events.js';
import { EXIT, exitCodeFor, formatError } from './exit-codes.js';
import { cmdGate } from './gate.js';
import { cmdDoctor } from './doctor.js';
import { cmdCache, cmdClean, cmdList, cmdSsh, cmdStop, cmdSuites } from './runs.js';
import { cmdSetup } from './setup.js';
import { cmdSummary } from './summary.js';


const USAGE = `usage:
  bootc-harness test-install [SOURCE] [--profile NAME] [--tier 0,1,..] [--installer auto|bootc|direct]
                             [--luks tpm2|none] [--fresh-tpm] [--placement vm|host] [--bootc-backend auto|ostree|composefs]
                             [--accel auto|kvm|tcg] [--keep] [--no-disk-cache] [--no-pre] [--report DIR] [--json]
                             [--suites DIR]...   # the caller's Playwright specs too (tier user); --profile also takes a file
  bootc-harness gate [SOURCE] --require 0,1,..,user [test-install options]   # exit 0 only when every required tier ran and passed
  bootc-harness gate --run RUN --require 0,1,..      # the same question of a finished run's report
  bootc-harness list                                 # runs with a work directory: running, kept, abandoned
  bootc-harness ssh RUN [-- CMD...]                  # into a VM kept with --keep (RUN: id, prefix or latest)
  bootc-harness suites RUN [--tier 0,1,..] [--grep RE] [--profile NAME]   # the suites again, against a kept VM
  bootc-harness stop RUN|--all                       # power a kept VM off and remove everything of its run
  bootc-harness clean                                # what runs killed without their teardown left (each run does this first)
  bootc-harness doctor [--profile NAME]... [--json]     # what a run needs of this host, one line per check
  bootc-harness cache list|prune                     # installed disks cached by what shapes them
  bootc-harness package ROOTFS IMAGE [--label K=V]...
  bootc-harness manifest ROOTFS|IMAGE
  bootc-harness fixtures build [NAME...] [--jobs N]   # no NAME: every fixture
  bootc-harness matrix [--tier 0,1,..] [--jobs N] [--rows P,..] [--accel auto|kvm|tcg] [--report DIR]   # every ci.matrix profile (local fixtures), or those named
  bootc-harness matrix --list [--upstream]           # the CI rows as JSON: local ones, or the upstream bootc images (ci.upstream)
  bootc-harness summary RUN [--markdown FILE] [--github-output FILE]   # a run for a CI page: Markdown, step outputs
  bootc-harness setup                                # install the host tools (root; Debian/Ubuntu)
A bootc-harness.toml in the current directory gives defaults: profile, suites, tiers, require.`;

async function cmdTestInstall(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { ...INSTALL_FLAGS, tier: { type: 'string' } });
  const opts = installOptions('test-install', values, positionals, values.tier as string | undefined, signal);
  // --json: the verdict is the last event, however the run ended.
  const verdict = (s: Summary, runDir: string) => opts.json && emitter(opts.events)({ event: 'verdict', verdict: s.verdict, exitCode: s.exitCode, runDir, ...(s.tiers ? { tiers: s.tiers } : {}) });
  const result = await testInstall(opts).finally(() => opts.terminal.close());
  const s = result.summary;
  verdict(s, result.runDir);
  if (opts.json) return signal.aborted ? EXIT.interrupted : result.exitCode;
  if (signal.aborted && result.failure) {
    process.stderr.write(`bootc-harness: interrupted: stopped and cleaned up\nreport: ${result.runDir}\n`);
    return EXIT.interrupted;
  }
  if (result.failure) {
    process.stderr.write(formatError(result.failure) + '\n');
    if (s.kept) process.stderr.write(`kept: the VM is up: bootc-harness ssh ${s.kept.runId} [-- CMD] | suites ${s.kept.runId} | stop ${s.kept.runId}\n`);
    return result.exitCode;
  }
  if (signal.aborted) {
    // The signal came after the last cancellable step: the run finished, but the user asked to stop.
    process.stderr.write(`bootc-harness: interrupted: stopped and cleaned up (the run had finished: ${s.verdict})\nreport: ${result.runDir}\n`);
    return EXIT.interrupted;
  }
  const counts = (st: string) => s.tests.filter((t) => t.status === st).length;
  // Each failed check by name, a line each: the caller's as well as ours, with its first error line.
  for (const t of s.tests.filter((x) => x.status === 'failed' || x.status === 'timedOut')) process.stdout.write(`failed: [${t.tier}] ${t.id}: ${(t.error ?? t.status).split('\n')[0]}\n`);
  process.stdout.write(
    `${s.verdict.toUpperCase()}: ${s.source} on ${s.kernel.release} (${s.kernel.tier}), ${s.accel}; ` +
      `${counts('passed')} passed, ${counts('failed') + counts('timedOut')} failed, ${counts('skipped')} skipped\nreport: ${result.runDir}\n`,
  );
  if (s.kept) {
    const id = s.kept.runId;
    process.stdout.write(`kept: the VM is up: bootc-harness ssh ${id} [-- CMD] | suites ${id} [--tier N] | stop ${id}\n  or: ${s.kept.ssh}\n`);
  }
  return result.exitCode;
}

async function cmdPackage(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { label: { type: 'string', multiple: true } });
  if (positionals.length !== 2) throw new UsageError('package needs ROOTFS and IMAGE');
  const [rootfs, image] = positionals as [string, string];
  const src = parseSource(rootfs);
  if (src.kind !== 'dir') throw new UsageError(`package: ${rootfs} is not a directory`);
  await checkSource(src);
  if (!isImageReference(image)) throw new UsageError(`package: malformed image name "${image}"`);
  const labels: Record<string, string> = {};
  for (const l of (values.label as string[] | undefined) ?? []) {
    const m = /^([A-Za-z0-9._/-]+)=(.*)$/.exec(l);
    if (!m) throw new UsageError(`--label must be K=V, got "${l}"`);
    labels[m[1]!] = m[2]!;
  }
  requireTools(['buildah', 'getfattr', 'getcap', 'bwrap']);
  const p = await packageRootfs(src.path, image, labels, `pkg-${process.pid}`);
  process.stdout.write(`${p.ref} ${p.id}\n`);
  return EXIT.passed;
}

async function cmdManifest(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError('manifest needs ROOTFS or IMAGE');
  const arg = positionals[0]!;
  requireTools(['getfattr', 'getcap', 'bwrap']);
  let manifest;
  const byPath = arg.startsWith('/') || arg.startsWith('.') || existsSync(arg) ? parseSource(arg) : undefined;
  if (byPath && byPath.kind === 'dir') {
    const src = byPath;
    if (!existsSync(src.path)) throw new UsageError(`manifest: ${src.path} does not exist`);
    if (!statSync(src.path).isDirectory()) throw new UsageError(`manifest: ${src.path} is a file, expected a rootfs directory`);
    manifest = await takeManifest(src.path);
  } else if (byPath || /^(oci|oci-archive|docker):/.test(arg)) {
    // Another transport (or a path that is an OCI layout or archive by its content): copy
    // into containers-storage under a throwaway name, read, remove.
    const src = byPath ?? parseSource(arg);
    await checkSource(src);
    requireTools(['buildah', 'skopeo']);
    const local = `localhost/bootc-harness/manifest:${process.pid}`;
    const transport = src.kind === 'oci' ? `oci:${src.path}${src.tag ? `:${src.tag}` : ''}` : src.kind === 'oci-archive' ? `oci-archive:${src.path}` : arg;
    await importImage(transport, local);
    try {
      manifest = await manifestOfImage(local, `manifest-${process.pid}`);
    } finally {
      await removeImage(local);
    }
  } else {
    const ref = arg.replace(/^containers-storage:/, '');
    if (!isImageReference(ref) && !/^[a-f0-9]{12,64}$/.test(ref)) throw new UsageError(`manifest: malformed image reference "${arg}"`);
    requireTools(['buildah']);
    if (!(await imageId(ref))) throw new UsageError(`manifest: no image ${ref} in containers-storage`);
    manifest = await manifestOfImage(ref, `manifest-${process.pid}`);
  }
  process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
  return EXIT.passed;
}

async function cmdMatrix(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { tier: { type: 'string' }, accel: { type: 'string' }, report: { type: 'string' }, list: { type: 'boolean' }, upstream: { type: 'boolean' }, jobs: { type: 'string' }, rows: { type: 'string' } });
  if (positionals.length) throw new UsageError('matrix takes no SOURCE: it runs every profile marked ci.matrix');
  // Upstream rows pull registry images and need KVM: CI gates each on its own runner, a local run never includes them.
  if (values.upstream && !values.list) throw new UsageError('matrix --upstream only lists (with --list): each upstream row runs in CI as bootc-harness gate --profile P');
  if (values.list) {
    // For CI: the matrix as JSON, one entry per profile.
    const profiles = values.upstream ? await upstreamProfiles() : await matrixProfiles();
    process.stdout.write(JSON.stringify(ciMatrix(profiles)) + '\n');
    return EXIT.passed;
  }
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs must be a whole number from 1, got "${values.jobs}"`);
  const r = await runMatrix({
    ...(jobs !== undefined ? { jobs } : {}),
    ...(values.rows !== undefined ? { rows: (values.rows as string).split(',').map((x) => x.trim()).filter(Boolean) } : {}),
    tiers: parseTiers(values.tier as string | undefined),
    installer: 'auto',
    accel: oneOf('accel', values.accel as string | undefined, ['auto', 'kvm', 'tcg'] as const, 'auto'),
    keep: false,
    reportDir: values.report as string | undefined,
    log,
    signal,
  });
  process.stdout.write(matrixTable(r.rows) + `report: ${r.dir}\n`);
  return r.exitCode;
}

async function cmdFixtures(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { jobs: { type: 'string' } });
  const [verb, ...names] = positionals;
  if (verb !== 'build') throw new UsageError('usage: bootc-harness fixtures build [NAME...] [--jobs N]');
  const jobs = values.jobs === undefined ? defaultFixtureJobs() : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a whole number from 1, got "${values.jobs}"`);
  for (const n of names) loadRecipe(n); // unknown names: one line, exit 2, nothing started
  if (names.length === 1) {
    const fx = await buildFixture(names[0]!, { log, signal });
    process.stdout.write(`${fx.rootfs}${fx.cached ? ' (cached)' : ''}\n`);
    return EXIT.passed;
  }
  const all = names.length ? names : listFixtures();
  log(`fixtures: building ${all.join(', ')} (${jobs} at a time)`);
  const rows = await buildFixtures(all, { jobs, log, signal });
  if (signal.aborted) throw signal.reason;
  process.stdout.write(fixtureTable(rows));
  return rows.some((r) => r.error) ? EXIT.infra : EXIT.passed;
}

/** Every command, by name: each parses its own arguments. */
const COMMANDS: Record<string, (args: string[], signal: AbortSignal) => Promise<number> | number> = {
  'test-install': cmdTestInstall,
  package: cmdPackage,
  manifest: cmdManifest,
  fixtures: cmdFixtures,
  matrix: cmdMatrix,
  gate: cmdGate,
  list: cmdList,
  ssh: cmdSsh,
  suites: cmdSuites,
  stop: cmdStop,
  clean: cmdClean,
  cache: cmdCache,
  summary: cmdSummary,
  setup: cmdSetup,
  doctor: cmdDoctor,
};

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return; // teardown is already running; let it finish
    interrupted = true;
    log(`${sig}: stopping and cleaning up`);
    controller.abort(new UsageError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A parent that went away (closed pipe) must not crash us before teardown.
  const ignore = () => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  try {
    const [cmd, ...rest] = argv;
    const command = cmd !== undefined && Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
    if (command) return await command(rest, controller.signal);
    switch (cmd) {
      case undefined:
        // No command is a usage error: the usage goes where errors go.
        process.stderr.write(USAGE + '\n');
        return EXIT.usage;
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return EXIT.passed;
      default:
        throw new UsageError(`unknown command "${cmd}"\n${USAGE}`);
    }
  } catch (err) {
    if (interrupted) {
      const runDir = (err as { runDir?: string }).runDir;
      process.stderr.write(`bootc-harness: interrupted: stopped and cleaned up${runDir ? `\nreport: ${runDir}` : ''}\n`);
      return EXIT.interrupted;
    }
    process.stderr.write(formatError(err) + '\n');
    return exitCodeFor(err);
  }
  // The signal handlers stay: cleanup still in flight (a cancelled stage's own
  // teardown) must not be cut short by a second Ctrl-C.
}
