// test-install: source -> image -> disk -> vm -> session -> suites -> report.
// The CLI owns the VM for the whole run; the suites attach to it over SSH.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import getPort from 'get-port';
import { AssertionFailure, InfraError, UsageError, describeError } from '../errors.js';
import { buildFixture, type BuiltFixture } from '../fixtures/build.js';
import { importImage, imageDigest, imageId, imageLabels, removeImage } from '../image/buildah.js';
import { loadRecipe, ROOT_LABEL } from '../fixtures/recipe.js';

import { manifestOfImage, packageRootfs } from '../image/package.js';
import type { Manifest } from '../image/manifest.js';
import { checkSource, describeSource, parseSource, type Source } from '../image/source.js';
import { resolveInRoot } from '../image/in-root.js';
import { imageHasBootc, installDirect, type InstalledDisk } from '../install/direct.js';
import { installBootcInVm, installBootcOnHost } from '../install/bootc.js';
import { findVirtiofsd } from '../install/installer-vm.js';
import { Machine } from '../machine.js';
import { kernelTierOf, listProfiles, loadProfile, DEFAULT_PROFILE, type Profile } from '../profile/profile.js';
import { chooseProfile, rootfsImageId, type ProfileChoice, type SourceFacts } from '../profile/choose.js';
import { pointLatest, readTests, verdictOf, writeSummary, type Summary, type TestRecord } from '../report/summary.js';
import { generateRunKey } from '../ssh/keys.js';
import { ensureWorkRoot, reportsDir, workDir as workRoot } from '../util/paths.js';
import { requireTools } from '../util/tools.js';
import { Teardown } from '../util/teardown.js';
import { chooseAccel, kvmRefusal, type AccelChoice } from '../vm/accel.js';
import { describeHit, type ConsoleHit } from '../vm/console-patterns.js';
import { OVMF_CODE_CANDIDATES, OVMF_VARS_CANDIDATES } from '../vm/qemu-args.js';
import { createScratchDisks } from '../vm/scratch-disks.js';
import { Swtpm } from '../vm/swtpm.js';
import { Vm } from '../vm/vm.js';
import { CONTEXT_ENV, type RunContext } from './context.js';
import { StageClock, normalise } from './stages.js';
import { notTestedMessage, tierStatuses, withRunExpectations } from '../report/tiers.js';
import { retryInfraOnce } from './retry.js';
import { guestFallsSilent, sshSilentAfterLogin, SILENCE_MS, SSH_GRACE_AFTER_LOGIN_MS } from '../ssh/boot-watch.js';
import { createOverlay } from '../vm/overlay.js';
import { diskFor, type CachedInstall, type DiskKeyInputs, type InstallOutcome } from '../install/disk-cache.js';
import { processId, writeRecord, type RunRecord } from './registry.js';
import { reapAbandoned } from './reap.js';
import { runSuites } from './suites.js';

export const ALL_TIERS = [0, 1, 2, 3, 4] as const;

/** Room the disk stage keeps after the installer VM's deadline for its teardown. */
const INSTALLER_VM_TEARDOWN_MS = 20_000;

export interface TestInstallOptions {
  source?: string;
  profile?: string;
  tiers: number[];
  /** The tiers were asked for by name (--tier): one in which no test runs fails the run. */
  tiersExplicit?: boolean;
  installer: 'auto' | 'bootc' | 'direct';
  accel: 'auto' | 'kvm' | 'tcg';
  keep: boolean;
  reportDir?: string;
  /** Encrypt the root with a TPM2-sealed key; default: what the profile expects (expect.luks.tpm2). */
  luks?: 'tpm2' | 'none';
  /** Where the install's TPM-binding step runs: on the host, or in an installer VM with the
   *  test VM's TPM and firmware. Default: vm for bootc with tpm2-luks, host otherwise. */
  placement?: 'host' | 'vm';
  /** Boot with a new TPM instead of the one the installer enrolled (a negative test of TPM binding). */
  freshTpm?: boolean;
  /** false: install afresh and keep nothing (--no-disk-cache); default: the installed-disk cache. */
  diskCache?: boolean;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface TestInstallResult {
  exitCode: number;
  runDir: string;
  summary: Summary;
}

const BASE_TOOLS = ['buildah', 'qemu-system-x86_64', 'qemu-img', 'swtpm', 'mke2fs', 'mkfs.vfat', 'mcopy', 'mmd', 'sfdisk', 'getfattr', 'getcap'];

function slug(s: string): string {
  return s.replace(/^.*\//, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40) || 'image';
}

function newRunId(source: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${t}-${slug(source)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Everything the user can get wrong, checked before anything starts (exit 2). */
export async function validateInput(opts: TestInstallOptions): Promise<{ source: Source; profile: Profile; profileReason: string }> {
  for (const t of opts.tiers) if (!ALL_TIERS.includes(t as (typeof ALL_TIERS)[number])) throw new UsageError(`unknown tier ${t} (tiers are ${ALL_TIERS.join(', ')})`);
  let source: Source;
  let choice: ProfileChoice;
  if (opts.source) {
    source = parseSource(opts.source);
    checkSource(source);
    choice = opts.profile ? { name: opts.profile, reason: 'asked for with --profile' } : chooseProfile(source, await sourceFacts(source), await listProfiles());
  } else {
    choice = opts.profile ? { name: opts.profile, reason: 'asked for with --profile' } : { name: DEFAULT_PROFILE, reason: 'no SOURCE: the default fixture and its profile' };
  }
  const profile = await loadProfile(choice.name);
  if (!opts.source) {
    source = 'fixture' in profile.source ? { kind: 'fixture', name: profile.source.fixture } : parseSource(profile.source.image);
  }
  source = source!;
  checkSource(source);
  if (source.kind === 'containers-storage' && !(await imageId(source.ref))) throw new UsageError(`containers-storage: no image ${source.ref}`);
  if (opts.freshTpm && (opts.luks ?? (profile.expect.luks?.tpm2 ? 'tpm2' : 'none')) !== 'tpm2') {
    throw new UsageError('--fresh-tpm only means something with a TPM2-sealed root (--luks tpm2, or a profile expecting luks.tpm2)');
  }
  if (opts.placement === 'vm' && opts.installer !== 'bootc' && (opts.luks ?? (profile.expect.luks?.tpm2 ? 'tpm2' : 'none')) !== 'tpm2') {
    throw new UsageError('--placement vm: only a TPM2-sealed root (--luks tpm2) or the bootc installer has a step to run in the installer VM');
  }
  if (source.kind === 'dir' && !existsSync(resolveInRoot(source.path, '/usr/bin/bootc'))) {
    if (opts.installer === 'bootc') throw new UsageError(`--installer bootc: ${source.path} has no /usr/bin/bootc`);
    if (opts.installer === 'auto' && profile.installer === 'bootc') {
      throw new UsageError(`profile ${profile.name} (${choice.reason}) installs with bootc, but ${source.path} has no /usr/bin/bootc: pass --profile or --installer direct`);
    }
  }
  if (opts.placement === 'vm') findVirtiofsd();
  if (opts.accel === 'kvm') {
    const why = await kvmRefusal();
    if (why) throw new UsageError(`--accel kvm: KVM does not run guests here (${why}); use --accel auto or tcg`);
  }
  requireTools([...BASE_TOOLS, ...(source.kind === 'fixture' ? ['mmdebstrap', 'setcap'] : []), ...(source.kind === 'oci' || source.kind === 'oci-archive' || source.kind === 'registry' ? ['skopeo'] : [])]);
  if (!OVMF_CODE_CANDIDATES.some((p) => existsSync(p))) throw new UsageError('missing UEFI firmware (install Debian package ovmf)');
  const free = (() => {
    const root = ensureWorkRoot();
    const s = statfsSync(root);
    return s.bavail * s.bsize;
  })();
  const needed = profile.vm.diskGiB * 2 ** 30 + 2 * 2 ** 30;
  if (free < needed) throw new UsageError(`not enough disk space in ${workRoot()}: ${(free / 2 ** 30).toFixed(1)} GiB free, ${(needed / 2 ** 30).toFixed(1)} GiB needed`);
  return { source, profile, profileReason: choice.reason };
}

/** What a source says about itself before it is packaged: its labels (images), its os-release IMAGE_ID (rootfs dirs). */
async function sourceFacts(source: Source): Promise<SourceFacts> {
  if (source.kind === 'dir') return { imageId: rootfsImageId(source.path) };
  if (source.kind === 'containers-storage' && (await imageId(source.ref))) return { labels: await imageLabels(source.ref) };
  return {};
}

export async function testInstall(opts: TestInstallOptions): Promise<TestInstallResult> {
  const { source, profile, profileReason } = await validateInput(opts);
  opts.log(`profile: ${profile.name} (${profileReason})`);
  const sourceName = describeSource(source);
  if ('detected' in source && source.detected) opts.log(`source: ${source.path} is ${source.detected}`);
  // Runs killed without their teardown (SIGKILL, a lost machine) leave VMs, containers and
  // work directories; each new run clears those whose owner is gone (kept VMs stay).
  for (const line of await reapAbandoned().catch((e: Error) => [`could not clean up after abandoned runs: ${e.message}`])) opts.log(`cleanup: ${line}`);
  const runId = newRunId(source.kind === 'fixture' ? source.name : sourceName);
  const reports = opts.reportDir ?? reportsDir();
  const runDir = join(reports, runId);
  const work = join(workRoot(), runId);
  const startedAt = new Date().toISOString();
  mkdirSync(runDir, { recursive: true });
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const record: RunRecord = { runId, source: sourceName, owner: processId(process.pid)!, startedAt, runDir };
  writeRecord(work, record);

  const td = new Teardown();
  // Set once a --keep run has handed its VM over: then its VM, TPM, work dir and images stay until `stop`.
  let kept = false;
  td.defer('remove work dir', () => (kept ? undefined : rmSync(work, { recursive: true, force: true })));
  const ownImage = (id: string) => {
    record.images = [...(record.images ?? []), id];
    writeRecord(work, record);
    td.defer(`remove image ${id}`, () => (kept ? undefined : removeImage(id)));
  };
  const clock = new StageClock();
  const summary: Summary = {
    verdict: 'error',
    exitCode: 3,
    source: sourceName,
    ...('detected' in source && source.detected ? { sourceDetected: source.detected } : {}),
    profile: profile.name,
    profileReason,
    image: { ref: '' },
    installer: opts.installer,
    accel: '',
    accelReason: '',
    kernel: { release: '', tier: '' },
    stages: clock.records,
    tests: [],
    startedAt,
    finishedAt: startedAt,
  };
  const consoleLog = join(runDir, 'console.log');
  let vm: Vm | undefined;
  let failure: Error | undefined;
  let bootTests: TestRecord[] = [];
  const abortRace = () =>
    new Promise<never>((_, reject) => {
      if (opts.signal.aborted) return reject(new InfraError('input', 'interrupted'));
      opts.signal.addEventListener('abort', () => reject(new InfraError('input', 'interrupted')), { once: true });
    });

  try {
    // fixture: a self-test image's rootfs, built once and cached; not charged to the image
    // budget. The build's own budget stops it; this stage's bound only backs that up.
    let fixture: BuiltFixture | undefined;
    if (source.kind === 'fixture') {
      const name = source.name;
      fixture = await clock.run('fixture', 2 * fixtureBudgetMs(name) + 300_000, () => buildFixture(name, { log: opts.log, signal: opts.signal }), { cached: (v) => v.cached });
    }

    // image
    opts.log(`image: ${sourceName}`);
    const image = await clock.run(
      'image',
      profile.budgets.imageMs,
      () => Promise.race([prepareImage(source, fixture, runId, opts, ownImage), abortRace()]),
      { cached: (v) => v.cached },
    );
    summary.image = { ref: image.ref, digest: image.digest, id: image.id };
    const manifestPath = join(runDir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(image.manifest));

    // disk
    const hasBootc = await imageHasBootc(image.id, runId);
    const installer = opts.installer === 'auto' ? (hasBootc ? 'bootc' : profile.installer === 'auto' ? 'direct' : profile.installer) : opts.installer;
    summary.installer = installer;
    if (installer === 'bootc' && !hasBootc) throw new UsageError(`--installer bootc: image ${image.ref} has no /usr/bin/bootc`);
    // The image says how its root is laid out (a label, as containers.bootc says it is bootable).
    const rootLayout = (await imageLabels(image.id))[ROOT_LABEL] === 'composefs' ? 'composefs' : 'plain';
    summary.rootLayout = rootLayout;
    const luks = opts.luks ?? (profile.expect.luks?.tpm2 ? 'tpm2' : 'none');
    summary.luks = luks;
    opts.log(`disk: installer ${installer}`);
    // tpm2-luks binds the TPM the installer sees: bootc's goes in the installer VM unless asked otherwise.
    const placement = opts.placement ?? (installer === 'bootc' && luks === 'tpm2' ? 'vm' : 'host');
    summary.placement = placement;
    const tpmStateDir = join(work, 'tpm');
    const installerVm = {
      accel: opts.accel,
      cpus: profile.vm.cpus,
      memoryMiB: profile.vm.memoryMiB,
      firmware: { code: OVMF_CODE_CANDIDATES.find((p) => existsSync(p))!, varsTemplate: OVMF_VARS_CANDIDATES.find((p) => existsSync(p))! },
      // Ends before the disk stage does, so the installer VM's own teardown runs first.
      deadline: Date.now() + profile.budgets.diskMs - INSTALLER_VM_TEARDOWN_MS,
      log: opts.log,
    };
    if (placement === 'vm') opts.log('disk: the TPM-binding step runs in an installer VM with the test VM\'s TPM');
    const diskInputs: DiskKeyInputs = {
      imageId: image.id,
      installer,
      rootLayout,
      luks,
      placement,
      kargs: image.kargs,
      minDiskGiB: profile.vm.diskGiB,
      composefsBackend: profile.expect.composefs !== null,
    };
    const install = async (): Promise<InstallOutcome> => {
      // The disk authorizes this key; a cached disk comes with the key it was installed with.
      const key = generateRunKey(work);
      const common = { imageId: image.id, runId, workDir: work, authorizedKey: key.publicKey, minDiskGiB: profile.vm.diskGiB, kargs: image.kargs, signal: opts.signal };
      const bootc = {
        ...common,
        imageRef: image.ref,
        filesystem: 'ext4' as const,
        composefsBackend: profile.expect.composefs !== null,
        ...(luks === 'tpm2' ? { blockSetup: 'tpm2-luks' as const } : {}),
      };
      const tpm2 = { stateDir: tpmStateDir, ...(placement === 'vm' ? { inVm: installerVm } : {}) };
      const disk: CachedInstall = await Promise.race([
        installer === 'bootc'
          ? placement === 'vm'
            ? installBootcInVm({ ...bootc, tpmStateDir, vm: installerVm })
            : installBootcOnHost(bootc)
          : installDirect({ ...common, rootLayout, ...(luks === 'tpm2' ? { luks: { tpm2 } } : {}) }),
        abortRace(),
      ]);
      return { disk, privateKeyPath: key.privateKeyPath, ...(luks === 'tpm2' ? { tpmStateDir } : {}) };
    };
    // An image made for this run alone (a directory's, an import) is gone after it: so is a disk of it.
    const cacheDisk = opts.diskCache !== false && !record.images?.includes(image.id);
    const got = await clock.run(
      'disk',
      profile.budgets.diskMs,
      () => Promise.race([diskFor(diskInputs, { work, bypass: !cacheDisk, budgetMs: profile.budgets.diskMs, signal: opts.signal, log: opts.log }, install), abortRace()]),
      { cached: (v) => v.cached },
    );
    const disk = got.disk;
    summary.diskKey = got.key;
    const key = { privateKeyPath: join(work, 'id_ed25519') };
    summary.kernel = { release: disk.kernel.release, tier: kernelTierOf(disk.kernel.release) };

    // vm
    const accel: AccelChoice = await chooseAccel(opts.accel, disk.kernel.vmlinuz);
    summary.accel = accel.accel;
    summary.accelReason = accel.reason;
    opts.log(`vm: ${accel.accel} (${accel.reason})`);
    const scratch = createScratchDisks(work, profile.vm.scratchDisks);
    // One boot: a throwaway overlay on the installed disk (so a retry starts from the disk
    // as installed), a TPM, QEMU; then the wait for SSH, raced against QEMU exiting, a
    // fatal console line, a login prompt with no sshd, and a guest that falls silent.
    let tpm: Swtpm | undefined;
    const boot = async (attempt: number) => {
      const port = await getPort({ host: '127.0.0.1' });
      const theVm = await clock.run('vm', 60_000, async () => {
        const overlay = await createOverlay(disk, join(work, `boot-${attempt}.qcow2`), opts.signal);
        // --fresh-tpm: a TPM that has never seen this disk, so the sealed key cannot be unsealed.
        const thisTpm = await Swtpm.start(join(work, opts.freshTpm ? 'tpm-fresh' : 'tpm'), join(work, 'tpm.sock'));
        tpm = thisTpm;
        if (opts.freshTpm) opts.log('vm: booting with a fresh TPM (not the one the installer enrolled)');
        td.defer('stop swtpm', () => (kept ? undefined : thisTpm.dispose()));
        const v = await Vm.start({
          dir: work,
          accel: accel.accel,
          cpus: profile.vm.cpus,
          memoryMiB: profile.vm.memoryMiB,
          ovmfCode: OVMF_CODE_CANDIDATES.find((p) => existsSync(p))!,
          ovmfVarsTemplate: OVMF_VARS_CANDIDATES.find((p) => existsSync(p))!,
          disk: overlay,
          extraDisks: scratch.host,
          ...(disk.qemuExtraArgs ? { extraArgs: disk.qemuExtraArgs } : {}),
          tpmSocket: thisTpm.socket,
          sshPort: port,
          consoleLog,
          warnOnly: new Set(profile.console.warnOnly),
        });
        td.defer('stop qemu', () => (kept ? undefined : v.dispose()));
        return v;
      });
      vm = theVm;
      opts.log(`session: waiting for ssh on 127.0.0.1:${port} (budget ${profile.budgets.bootMs / 1000} s)`);
      // Background watches of the boot end with the session stage, however it ends.
      const bootWatch = new AbortController();
      const race = () =>
        Promise.race([
          theVm.exited.then((e) => Promise.reject(theVm.exitError(e))),
          theVm.console.fatal().catch((hit: ConsoleHit) =>
            Promise.reject(new AssertionFailure('session', `${whyFatal(hit, luks)}\n${theVm.console.context(hit)}`, { consoleTail: theVm.console.tail() })),
          ),
          sshSilentAfterLogin(theVm, port, SSH_GRACE_AFTER_LOGIN_MS, bootWatch.signal),
          guestFallsSilent(theVm, port, SILENCE_MS, bootWatch.signal),
          abortRace(),
        ]);
      const machine = await clock
        .run('session', profile.budgets.bootMs + 5_000, () => Machine.waitReady({ port, privateKeyPath: key.privateKeyPath, bootMs: profile.budgets.bootMs, race }), {
          consoleTail: () => theVm.console.tail(),
        })
        .finally(() => bootWatch.abort());
      return { vm: theVm, machine, port };
    };
    const booted = await retryInfraOnce(boot, {
      signal: opts.signal,
      beforeRetry: async (r) => {
        opts.log(`boot: retrying once after an infrastructure failure: ${r.reason}`);
        summary.retries = [...(summary.retries ?? []), r];
        await vm?.dispose();
        await tpm?.dispose();
        appendFileSync(consoleLog, `\n=== bootc-harness: boot attempt 2 (the first failed: ${r.reason}) ===\n`);
      },
    })
      .catch((e) => {
        // A boot that dies on the console is the image's fault: record it as the failed tier0 check.
        if (e instanceof AssertionFailure) bootTests = [{ id: 'boot.reached-ssh', tier: 'tier0', status: 'failed', error: e.message }];
        throw e;
      });
    const { machine, port } = booted;
    const theVm = booted.vm;
    const release = (await machine.succeed('uname -r')).trim();
    summary.kernel = { release, tier: kernelTierOf(release) };
    opts.log(`session: ready, kernel ${release} (${summary.kernel.tier} tier)`);

    // suites
    const context: RunContext = {
      runId,
      runDir,
      workDir: work,
      source: sourceName,
      // What the suites expect: the profile's, plus what this run did (an encrypted root, a composefs layout).
      profile: withRunExpectations(profile, { luks, rootLayout }),
      ssh: { port, privateKeyPath: key.privateKeyPath, hostKey: machine.hostKey },
      manifestPath,
      consoleLog,
      kernel: summary.kernel,
      installedKernel: disk.kernel.release,
      scratchDisks: scratch.guest,
      ...(disk.composefsDigest ? { composefsDigest: disk.composefsDigest } : {}),
      ...(disk.luksPcrs !== undefined ? { luksPcrs: disk.luksPcrs } : {}),
    };
    const contextPath = join(work, 'context.json');
    writeFileSync(contextPath, JSON.stringify(context, null, 2), { mode: 0o600 });
    const suitesExit = await clock.run('suites', profile.budgets.testMs * 40, () =>
      Promise.race([runSuites(contextPath, runDir, { tiers: opts.tiers }, profile.budgets.testMs, opts.signal), abortRace()]),
    );

    // Journal for the report, then a clean power-off, or (--keep) the VM handed over.
    const journal = await machine.exec('journalctl -b --no-pager -o short-monotonic', 60_000).catch(() => undefined);
    if (journal) writeFileSync(join(runDir, 'journal.txt'), journal.stdout);
    if (opts.keep) {
      const knownHostsPath = join(work, 'known_hosts');
      writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${machine.hostKeyLine}\n`, { mode: 0o600 });
      machine.close();
      await clock.run('keep', 15_000, async () => {
        await theVm.handOver(consoleLog);
        tpm?.release();
      });
      kept = true;
      const qemu = processId(theVm.pid!)!;
      const swtpm = tpm?.pid !== undefined ? processId(tpm.pid) : undefined;
      record.kept = { at: new Date().toISOString(), qemu, ...(swtpm ? { swtpm } : {}), sshPort: port, privateKeyPath: key.privateKeyPath, knownHostsPath, contextPath, qmpSocket: join(work, 'qmp.sock'), consoleLog };
      writeRecord(work, record);
      summary.kept = { runId, ssh: plainSsh(record.kept) };
    } else {
      machine.close();
      await clock.run('shutdown', profile.budgets.shutdownMs + 5_000, async () => {
        const how = await theVm.shutdown(profile.budgets.shutdownMs);
        if (how === 'killed') opts.log('shutdown: guest did not power off in time; killed');
      });
    }
    const recorded = readTests(join(runDir, 'tests.json'));
    const failedTests = recorded.filter((x) => x.status !== 'passed' && x.status !== 'skipped').length;
    if (suitesExit !== 0 && failedTests === 0) failure = new InfraError('suites', `playwright exited ${suitesExit} without a failed test (no tests selected, or a runner error): see the output above`);
    if (suitesExit === 0 && recorded.length === 0) failure = new InfraError('suites', 'no test ran');
  } catch (e) {
    failure = normalise('input', e, undefined, vm?.console.tail());
  } finally {
    const errors = await td.run();
    if (errors.length && !failure) failure = new InfraError('shutdown', errors.map((x) => x.message).join('; '));
    else for (const x of errors) opts.log(`teardown: ${x.message}`);
  }

  const tests = [...bootTests, ...readTests(join(runDir, 'tests.json'))];
  summary.tests = tests;
  summary.tiers = tierStatuses(tests, opts.tiers, opts.tiersExplicit ?? false);
  const untested = Object.entries(summary.tiers).filter(([, st]) => st === 'not-tested').map(([tier]) => tier);
  // Asked for by name and not tested: a claim nothing backs. Fails the run, unless it already failed.
  if (untested.length && !failure) failure = new AssertionFailure('suites', untested.map((tier) => notTestedMessage(tier, tests)).join('\n'));
  const infraFailed = failure !== undefined && !(failure instanceof AssertionFailure);
  summary.verdict = verdictOf(tests, infraFailed);
  if (failure instanceof AssertionFailure && summary.verdict === 'passed') summary.verdict = 'failed';
  summary.exitCode = failure instanceof UsageError ? 2 : infraFailed ? 3 : summary.verdict === 'passed' ? 0 : 1;
  if (failure) {
    const f = failure as Error & { stage?: string; consoleTail?: string };
    summary.error = { stage: f.stage ?? 'input', message: describeError(failure), ...(f.consoleTail ? { consoleTail: f.consoleTail } : {}) };
  }
  summary.finishedAt = new Date().toISOString();
  writeSummary(runDir, summary);
  pointLatest(reports, runId);
  if (failure && summary.exitCode !== 0) {
    (failure as Error & { runDir?: string }).runDir = runDir;
    throw Object.assign(failure, { summary });
  }
  return { exitCode: summary.exitCode, runDir, summary };
}

/** A fixture's build budget, with its bases' (a derived fixture may build its base first). */
function fixtureBudgetMs(name: string): number {
  const r = loadRecipe(name);
  return r.buildBudgetMin * 60_000 + (r.base ? fixtureBudgetMs(r.base) : 0);
}

interface PreparedImage {
  ref: string;
  id: string;
  digest?: string;
  manifest: Manifest;
  kargs: string[];
  cached: boolean;
}

/** `own`: an image made for this run alone, removed with it. */
async function prepareImage(source: Source, fx: BuiltFixture | undefined, runId: string, opts: TestInstallOptions, own: (id: string) => void): Promise<PreparedImage> {
  switch (source.kind) {
    case 'fixture': {
      // Fixture images are cached under the recipe's hash, with the manifest they were verified against.
      if (!fx) throw new InfraError('image', `fixture ${source.name} was not built`);
      const ref = `localhost/bootc-harness/${source.name}:${fx.hash}`;
      const record = join(fx.dir, 'image.json');
      const id = await imageId(ref);
      if (id && existsSync(record)) {
        const saved = JSON.parse(readFileSync(record, 'utf8')) as { id: string; manifest: Manifest };
        if (saved.id === id) return { ref, id, digest: await imageDigest(id), manifest: saved.manifest, kargs: fx.recipe.kargs, cached: true };
      }
      const labels: Record<string, string> = { 'org.bootc-harness.fixture': source.name };
      if (fx.recipe.root !== 'plain') labels[ROOT_LABEL] = fx.recipe.root;
      const p = await packageRootfs(fx.rootfs, ref, labels, runId, opts.signal);
      writeFileSync(record, JSON.stringify({ id: p.id, manifest: p.sourceManifest }));
      return { ref, id: p.id, digest: p.digest, manifest: p.sourceManifest, kargs: fx.recipe.kargs, cached: false };
    }
    case 'dir': {
      // A directory may change between runs: package it afresh, and drop the image afterwards.
      const ref = `localhost/bootc-harness/${slug(source.path).toLowerCase()}:${runId.toLowerCase()}`;
      const p = await packageRootfs(source.path, ref, {}, runId, opts.signal);
      own(p.id);
      return { ref: p.ref, id: p.id, digest: p.digest, manifest: p.sourceManifest, kargs: [], cached: false };
    }
    case 'containers-storage': {
      const id = await imageId(source.ref);
      if (!id) throw new UsageError(`containers-storage: no image ${source.ref}`);
      return { ref: source.ref, id, digest: await imageDigest(id), manifest: await manifestOfImage(id, runId), kargs: [], cached: true };
    }
    default: {
      const local = `localhost/bootc-harness/import:${runId.toLowerCase()}`;
      const transport = source.kind === 'oci' ? `oci:${source.path}${source.tag ? `:${source.tag}` : ''}` : source.kind === 'oci-archive' ? `oci-archive:${source.path}` : `docker://${source.ref}`;
      await importImage(transport, local);
      const id = (await imageId(local))!;
      own(id);
      return { ref: local, id, digest: await imageDigest(id), manifest: await manifestOfImage(id, runId), kargs: [], cached: false };
    }
  }
}

/** Pure: the plain OpenSSH command that reaches a kept VM, host key pinned. */
export function plainSsh(k: { sshPort: number; privateKeyPath: string; knownHostsPath: string }): string {
  return `ssh -i ${k.privateKeyPath} -p ${k.sshPort} -o IdentitiesOnly=yes -o UserKnownHostsFile=${k.knownHostsPath} -o StrictHostKeyChecking=yes root@127.0.0.1`;
}

/** A passphrase prompt on a disk whose key is sealed to the TPM means the TPM would not unseal it. */
export function whyFatal(hit: ConsoleHit, luks: 'tpm2' | 'none'): string {
  if (luks === 'tpm2' && hit.id === 'passphrase-prompt') return `TPM2 unlock failed: the initrd fell back to asking for a passphrase (${describeHit(hit)})`;
  return describeHit(hit);
}
