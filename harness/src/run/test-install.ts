// test-install: source -> fixture -> image -> disk -> vm -> session -> suites -> report.
// The CLI owns the VM for the whole run (or hands it over with --keep); the suites attach over SSH.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { AssertionFailure, InfraError } from '../errors.js';
import { buildFixture, fixtureBudgetMs } from '../rootfs-builder/build.js';
import { imageLabels } from '../image/buildah.js';
import { ROOT_LABEL } from '../rootfs-builder/recipe.js';
import { prepareImage } from '../image/prepare.js';
import { describeSource } from '../image/source.js';
import { probeImage } from '../image/probe.js';
import { checkBeforeBoot } from './pre-checks.js';
import { kernelTierOf } from '../profile/profile.js';
import { buildSummary, readTests, type RunParts, type RunStart, type TestRecord } from '../report/summary.js';
import { withRunExpectations } from '../report/tiers.js';
import { emitter } from '../report/events.js';
import { writeReport } from '../report/run-page.js';
import { bootProfile } from '../report/boot-profile.js';
import { chooseAccel } from '../vm/accel.js';
import { createScratchDisks } from '../vm/scratch-disks.js';
import { vcpusFor } from '../vm/vcpus.js';
import type { Vm } from '../vm/vm.js';
import { bootGuest, saveJournal } from './boot.js';
import type { RunContext } from './context.js';
import { installDisk } from './disk-stage.js';
import { judgeRun } from './judge.js';
import { keepVm } from './kept.js';
import type { TestInstallOptions, TestInstallResult } from './options.js';
import { planInstall } from './plan.js';
import { findVirtiofsd } from '../vm/virtiofsd.js';
import { openRun } from './run-dir.js';
import { StageClock, normalise } from './stages.js';
import { runSuites } from './suites.js';
import { validateInput } from './validate.js';

export { ALL_TIERS, type TestInstallOptions, type TestInstallResult } from './options.js';

export async function testInstall(opts: TestInstallOptions): Promise<TestInstallResult> {
  const { source, profile, profileReason } = await validateInput(opts);
  const sourceName = describeSource(source);
  const run = await openRun(sourceName, source.kind === 'fixture' ? source.name : sourceName, opts);
  run.log(`profile: ${profile.name} (${profileReason})`);
  if ('detected' in source && source.detected) run.log(`source: ${source.path} is ${source.detected}`);
  const clock = new StageClock({ signal: opts.signal, log: run.log, teardown: run.td, events: run.events });
  const start: RunStart = { source: sourceName, profile: profile.name, profileReason, installer: opts.installer, stages: clock.records, startedAt: run.startedAt };
  // Each stage's result, kept for the summary, which is built from them once at the end.
  const parts: RunParts = 'detected' in source && source.detected ? { source: { detected: source.detected } } : {};
  let vm: Vm | undefined;
  let failure: Error | undefined;
  // Results the harness itself records: the pre checks, a boot that never reached SSH.
  const ownTests: TestRecord[] = [];
  try {
    // A fixture's rootfs is built once and cached, in a stage of its own with its own budget.
    const fx = source.kind === 'fixture' ? source.name : undefined;
    const fixture = fx ? await clock.run('fixture', 2 * fixtureBudgetMs(fx) + 300_000, (ctx) => buildFixture(fx, ctx), { cached: (v) => v.cached }) : undefined;
    run.log(`image: ${sourceName}`);
    // The image and what its files say (the probe reads image data with tools: they run under this stage's deadline).
    const { image, probe } = await clock.run(
      'image',
      profile.budgets.imageMs,
      async (ctx) => {
        const image = await prepareImage(source, fixture, run.runId, ctx.signal, run.ownImage, ctx.log);
        return { image, probe: await probeImage(image.id, run.runId, ctx) };
      },
      { cached: (v) => v.image.cached },
    );
    parts.image = { ref: image.ref, digest: image.digest, id: image.id };
    const manifestPath = join(run.runDir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(image.manifest));

    // pre: what the image's files answer, before anything is installed (a failure stops the run here).
    if (opts.pre !== false) await clock.run('pre', 60_000, async () => checkBeforeBoot(profile, image.manifest, probe, (t) => ownTests.push(...t)));
    const plan = planInstall(opts, profile, { ref: image.ref, hasBootc: probe.hasBootc, rootLabel: (await imageLabels(image.id))[ROOT_LABEL] });
    parts.plan = plan;
    // The installer VM (bootc's default placement) needs virtiofsd: said before the disk stage starts.
    if (plan.placement === 'vm') findVirtiofsd();
    run.log(`disk: installer ${plan.installer}`);
    const got = await clock.run('disk', profile.budgets.diskMs, (ctx) => installDisk({ run, image, plan, profile, opts, ctx }), { cached: (v) => v.cached });
    const disk = got.disk;
    parts.disk = { key: got.key, kernel: { release: disk.kernel.release, tier: kernelTierOf(disk.kernel.release) } };
    const accel = await chooseAccel(opts.accel, disk.kernel.vmlinuz);
    const vcpus = vcpusFor({ accel: accel.accel, profileCpus: profile.vm.cpus, hostCores: availableParallelism(), vmsAtOnce: opts.vmsAtOnce ?? 1 });
    parts.vm = { accel: accel.accel, accelReason: accel.reason, vcpus };
    run.log(`vm: ${accel.accel} (${accel.reason}), ${vcpus.count} vCPU${vcpus.count === 1 ? '' : 's'} (${vcpus.why})`);
    const scratch = createScratchDisks(run.work, profile.vm.scratchDisks);
    const privateKeyPath = join(run.work, 'id_ed25519');
    const booted = await bootGuest({
      run,
      clock,
      disk,
      accel: accel.accel,
      cpus: vcpus.count,
      profile,
      luks: plan.luks,
      freshTpm: opts.freshTpm ?? false,
      scratchDisks: scratch.host,
      privateKeyPath,
      signal: opts.signal,
      log: run.log,
      onRetry: (r) => (parts.retries = [...(parts.retries ?? []), r]),
      onVm: (v) => (vm = v),
    }).catch((e) => {
      // A boot that dies on the console is the image's fault: record it as the failed tier0 check.
      if (e instanceof AssertionFailure) ownTests.push({ id: 'boot.reached-ssh', tier: 'tier0', status: 'failed', error: e.message });
      throw e;
    });
    const { machine, port } = booted;
    const release = (await machine.succeed('uname -r')).trim();
    const kernel = { release, tier: kernelTierOf(release) };
    parts.session = { kernel };
    run.log(`session: ready, kernel ${release} (${kernel.tier} tier)`);
    // What the suites expect: the profile's, plus what this run did (an encrypted root, a composefs layout).
    const context: RunContext = {
      runId: run.runId,
      runDir: run.runDir,
      workDir: run.work,
      source: sourceName,
      profile: withRunExpectations(profile, plan),
      ssh: { port, privateKeyPath, hostKey: machine.hostKey },
      manifestPath,
      consoleLog: run.consoleLog,
      kernel,
      installedKernel: disk.kernel.release,
      scratchDisks: scratch.guest,
      vsock: booted.vsock,
      ...(opts.userSuites?.length ? { userSuites: opts.userSuites } : {}),
      ...(disk.composefsDigest ? { composefsDigest: disk.composefsDigest } : {}),
      ...(disk.luksPcrs !== undefined ? { luksPcrs: disk.luksPcrs } : {}),
      ...(disk.bootc ? { bootc: disk.bootc } : {}),
      // What the host read from the image, for the suites to hold the guest against.
      ...(image.digest ? { imageDigest: image.digest } : {}),
      ...(probe.zfsVermagic ? { zfsVermagic: probe.zfsVermagic } : {}),
      ...(probe.zfsModuleVersion ? { zfsModuleVersion: probe.zfsModuleVersion } : {}),
    };
    const contextPath = join(run.work, 'context.json');
    writeFileSync(contextPath, JSON.stringify(context, null, 2), { mode: 0o600 });
    const suitesExit = await clock.run('suites', profile.budgets.testMs * 40, (ctx) => runSuites(contextPath, run.runDir, { tiers: opts.tiers, userSuites: opts.userSuites ?? [] }, profile.budgets.testMs, ctx.signal, opts.json ?? false));

    // The journal for the report; then a clean power-off, or (--keep) the VM handed over.
    parts.boot = bootProfile(booted.timeline, await saveJournal(machine, run.runDir, booted.criticalChain));
    if (opts.keep) parts.kept = await keepVm(run, clock, booted, { privateKeyPath, contextPath });
    else {
      await clock.run('shutdown', profile.budgets.shutdownMs + 5_000, async () => {
        const how = await booted.vm.shutdown(profile.budgets.shutdownMs, () => machine.exec('systemctl poweroff --no-block', 10_000));
        if (how !== 'asked') run.log(how === 'acpi' ? 'shutdown: the guest ignored systemctl poweroff; powered off by the ACPI button' : 'shutdown: guest did not power off in time; killed');
      }).finally(() => machine.close());
    }
    const recorded = readTests(join(run.runDir, 'tests.json'));
    if (suitesExit !== 0 && !recorded.some((x) => x.status !== 'passed' && x.status !== 'skipped')) failure = new InfraError('suites', `playwright exited ${suitesExit} without a failed test (no tests selected, or a runner error): see the output above`);
    if (suitesExit === 0 && recorded.length === 0) failure = new InfraError('suites', 'no test ran');
  } catch (e) {
    failure = normalise('input', e, undefined, vm?.console.tail());
  } finally {
    const errors = await run.td.run();
    if (errors.length && !failure) failure = new InfraError('shutdown', errors.map((x) => x.message).join('; '));
    else for (const x of errors) run.log(`teardown: ${x.message}`);
  }

  const tests = [...ownTests, ...readTests(join(run.runDir, 'tests.json'))];
  for (const t of tests) emitter(run.events)({ event: 'test', id: t.id, tier: t.tier, status: t.status, ...(t.error ? { error: t.error } : {}) });
  const j = judgeRun(tests, opts.tiers, opts.tiersExplicit ?? false, failure, (opts.userSuites ?? []).length > 0);
  const summary = buildSummary(start, parts, { tests, tiers: j.tiers, verdict: j.verdict, exitCode: j.exitCode, finishedAt: new Date().toISOString(), ...(j.error ? { error: j.error } : {}) });
  writeReport(run.reports, run.runId, summary);
  const why = j.failure && j.exitCode !== 0 ? { failure: Object.assign(j.failure, { runDir: run.runDir }) } : {};
  return { exitCode: j.exitCode, runDir: run.runDir, summary, ...why };
}
