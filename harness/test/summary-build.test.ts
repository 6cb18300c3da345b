// summary.json is built once, from what each stage's result carries (buildSummary), no longer
// filled by Object.assign as the stages went. Same run, same summary.json: the mutation
// sequence testInstall had before the change (kept here as the reference, step for step) and
// the new builder are given the same recorded stage results, and must write the same bytes.
import t from 'tap';
import { buildSummary, newSummary, type RunEnd, type RunParts, type RunStart, type Summary } from '../src/report/summary.js';

const start: RunStart = { source: 'fixture:trixie', profile: 'trixie', profileReason: '--profile', installer: 'auto', stages: [{ name: 'fixture', ms: 12, cached: true }, { name: 'image', ms: 40, cached: true }], startedAt: '2026-12-07T05:00:00.000Z' };
const image = { ref: 'localhost/bootc-harness/trixie:0123456789abcdef', digest: 'sha256:aa', id: 'bb'.repeat(32) };
const plan = { installer: 'direct', rootLayout: 'composefs' as const, luks: 'none' as const, placement: 'host' as const, composefsBackend: false };
const disk = { key: 'k123', kernel: { release: '6.12.48+deb13-amd64', tier: 'pre-6.15' } };
const vm = { accel: 'tcg', accelReason: 'no /dev/kvm', vcpus: { count: 2, why: 'two host cores, one VM' } };
const session = { kernel: { release: '6.12.48+deb13-amd64', tier: 'pre-6.15' } };
const boot = { firmwareMs: 1000, kernelToSshdMs: 20_000, sshdToHarnessMs: 500, slowest: [] } as unknown as Summary['boot'];
const kept = { runId: 'r1', ssh: 'ssh -p 2222 root@127.0.0.1' };
const tests = [{ id: 'pre.setid', tier: 'pre', status: 'passed' as const }, { id: 'boot.reached-ssh', tier: 'tier0', status: 'passed' as const }];
const passed: RunEnd = { tests, tiers: { tier0: 'passed' }, verdict: 'passed', exitCode: 0, finishedAt: '2026-12-07T05:03:00.000Z' };
const failed: RunEnd = { tests: [{ id: 'boot.reached-ssh', tier: 'tier0', status: 'failed', error: 'kernel panic' }], tiers: { tier0: 'failed' }, verdict: 'failed', exitCode: 1, error: { stage: 'session', message: 'kernel panic', consoleTail: '...' }, finishedAt: '2026-12-07T05:02:00.000Z' };

/** testInstall's summary before the change, step for step: newSummary, then Object.assign as each stage ended. */
function before(s0: RunStart, p: RunParts & { retryList?: { stage: string; reason: string }[] }, end: RunEnd): Summary {
  const summary = newSummary(s0);
  if (p.source) summary.sourceDetected = p.source.detected;
  if (p.image) summary.image = p.image;
  if (p.plan) Object.assign(summary, { installer: p.plan.installer, rootLayout: p.plan.rootLayout, luks: p.plan.luks, placement: p.plan.placement });
  if (p.disk) {
    summary.diskKey = p.disk.key;
    summary.kernel = p.disk.kernel;
  }
  if (p.vm) Object.assign(summary, { accel: p.vm.accel, accelReason: p.vm.accelReason, vcpus: p.vm.vcpus });
  for (const r of p.retries ?? []) summary.retries = [...(summary.retries ?? []), r];
  if (p.session) summary.kernel = p.session.kernel;
  if (p.boot) summary.boot = p.boot;
  if (p.kept) summary.kept = p.kept;
  summary.tests = end.tests;
  Object.assign(summary, { tiers: end.tiers, verdict: end.verdict, exitCode: end.exitCode, finishedAt: end.finishedAt }, end.error ? { error: end.error } : {});
  return summary;
}

const json = (s: Summary) => JSON.stringify(s, null, 2) + '\n';

const RUNS: [string, RunParts, RunEnd][] = [
  ['a whole run, kept (--keep)', { image, plan, disk, vm, session, boot, kept }, passed],
  ['a whole run, powered off, a path detected as an OCI layout', { source: { detected: 'an OCI image layout' }, image, plan, disk, vm, session, boot }, passed],
  ['stopped by the pre checks (only the image stage)', { image }, { ...failed, error: { stage: 'pre', message: 'sudo not SUID' } }],
  ['a boot that failed after a retry (no session)', { image, plan, disk, vm, retries: [{ stage: 'vm', reason: 'stalled' }] }, failed],
  ['bad input before any stage', {}, { tests: [], tiers: {}, verdict: 'error', exitCode: 2, error: { stage: 'input', message: 'no such file' }, finishedAt: start.startedAt }],
];

for (const [what, parts, end] of RUNS) {
  t.test(`${what}: summary.json unchanged`, async (t) => {
    t.equal(json(buildSummary(start, parts, end)), json(before(start, parts, end)), 'the same bytes, keys in the same order');
  });
}

t.test('the session\'s kernel (uname -r) wins over the installed disk\'s', async (t) => {
  const s = buildSummary(start, { disk, session: { kernel: { release: '6.12.99', tier: 'pre-6.15' } } }, passed);
  t.equal(s.kernel.release, '6.12.99');
  t.equal(buildSummary(start, { disk }, failed).kernel.release, disk.kernel.release, 'no session: the disk\'s kernel');
});
