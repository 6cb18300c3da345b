// The install decisions and the run's verdict are pure: the same inputs, the same answer,
// whoever asks (validateInput and the disk stage ask planInstall; the CLI and the gate read judgeRun).
import t from 'tap';
import { planInstall, luksOf } from '../src/run/plan.js';
import { judgeRun } from '../src/run/judge.js';
import { validateProfile } from '../src/profile/profile.js';
import { AssertionFailure, InfraError, UsageError } from '../src/errors.js';

const profile = (expect: Record<string, unknown> = {}, installer = 'auto') => validateProfile({ description: 'x', source: { fixture: 'trixie' }, kernel: {}, installer, expect }, 'p');
const image = { ref: 'localhost/x:1', hasBootc: false };

t.test('installer: asked for, else bootc when the image has it, else the profile, else direct', async (t) => {
  t.equal(planInstall({ installer: 'direct' }, profile(), { ...image, hasBootc: true }).installer, 'direct');
  t.equal(planInstall({ installer: 'auto' }, profile(), { ...image, hasBootc: true }).installer, 'bootc');
  t.equal(planInstall({ installer: 'auto' }, profile(), image).installer, 'direct');
  t.throws(() => planInstall({ installer: 'bootc' }, profile(), image), UsageError, 'bootc asked for, the image has none');
  t.throws(() => planInstall({ installer: 'auto' }, profile({}, 'bootc'), image), /has no \/usr\/bin\/bootc/);
});

t.test('LUKS: asked for, else what the profile expects', async (t) => {
  t.equal(luksOf({}, profile({ luks: { tpm2: true } })), 'tpm2');
  t.equal(luksOf({ luks: 'none' }, profile({ luks: { tpm2: true } })), 'none');
});

t.test('placement: the image\'s own bootc runs in the installer VM unless the host is asked for, which trusts the image', async (t) => {
  const bootc = { ...image, hasBootc: true };
  t.match(planInstall({ installer: 'auto' }, profile(), bootc), { installer: 'bootc', placement: 'vm', trustsImage: false }, 'no --placement, no LUKS: still the VM (issue 23)');
  t.match(planInstall({ installer: 'auto' }, profile({ luks: { tpm2: true } }), bootc), { placement: 'vm', trustsImage: false });
  t.match(planInstall({ installer: 'bootc', placement: 'host' }, profile(), bootc), { placement: 'host', trustsImage: true }, 'asked for: trusted, and said so');
  t.match(planInstall({ installer: 'direct' }, profile({ luks: { tpm2: true } }), bootc), { placement: 'host', trustsImage: false }, 'direct runs no image binary on the host');
  t.match(planInstall({ installer: 'direct', placement: 'vm', luks: 'tpm2' }, profile(), image), { placement: 'vm', trustsImage: false });
});

t.test('root layout from the image\'s label; bootc backend asked by flag, else profile, else the image decides', async (t) => {
  t.equal(planInstall({ installer: 'auto' }, profile(), { ...image, rootLabel: 'composefs' }).rootLayout, 'composefs');
  t.equal(planInstall({ installer: 'auto' }, profile(), image).rootLayout, 'plain');
  const bootc = { ...image, hasBootc: true };
  t.equal(planInstall({ installer: 'auto' }, profile({ composefs: { verity: 'optional' } }), bootc).bootcBackend, 'auto', 'expecting a composefs root does not force the composefs backend: ostree roots are composefs too');
  const forced = validateProfile({ description: 'x', source: { fixture: 'trixie' }, kernel: {}, installer: 'bootc', bootcBackend: 'composefs', expect: {} }, 'p');
  t.equal(planInstall({ installer: 'auto' }, forced, bootc).bootcBackend, 'composefs', 'the profile forces one');
  t.equal(planInstall({ installer: 'auto', bootcBackend: 'ostree' }, forced, bootc).bootcBackend, 'ostree', 'the flag beats the profile');
});

t.test('root layout from the profile, else the image\'s label (one kernel rootfs serves a plain and a composefs row)', async (t) => {
  t.equal(planInstall({ installer: 'auto' }, profile(), { ...image, rootLabel: 'composefs' }).rootLayout, 'composefs', 'a user image labelled composefs gets that layout');
  t.equal(planInstall({ installer: 'auto' }, profile(), image).rootLayout, 'plain');
  const layout = (rootLayout: string) => validateProfile({ description: 'x', source: { fixture: 'trixie' }, kernel: {}, installer: 'direct', rootLayout }, 'p');
  t.equal(planInstall({ installer: 'auto' }, layout('composefs'), image).rootLayout, 'composefs', 'one rootfs, the composefs row: the profile chooses');
  t.equal(planInstall({ installer: 'auto' }, layout('plain'), { ...image, rootLabel: 'composefs' }).rootLayout, 'plain', 'the profile outranks the label');
  t.throws(() => layout('zfs'), /rootLayout must be one of plain, composefs/);
});

t.test('the verdict and exit code from the tests and how the run ended', async (t) => {
  const passed = [{ id: 'a', tier: 'tier0', status: 'passed' as const }];
  t.match(judgeRun(passed, [0], false), { verdict: 'passed', exitCode: 0, tiers: { tier0: 'passed' } });
  t.match(judgeRun([{ id: 'a', tier: 'tier0', status: 'failed' as const }], [0], false), { verdict: 'failed', exitCode: 1 });
  t.match(judgeRun(passed, [0, 3], true), { verdict: 'failed', exitCode: 1, error: { stage: 'suites', message: /tier3 was asked for with --tier but no test of it ran/ } }, 'a named tier nothing tested');
  t.match(judgeRun(passed, [0, 3], false), { verdict: 'passed', exitCode: 0, tiers: { tier3: 'not-applicable' } }, 'not named: not applicable');
  t.match(judgeRun(passed, [0], false, new InfraError('vm', 'QEMU died')), { verdict: 'error', exitCode: 3, error: { stage: 'vm' } });
  t.match(judgeRun([], [0], false, new UsageError('bad')), { exitCode: 2 });
  t.match(judgeRun([{ id: 'pre.setid', tier: 'pre', status: 'failed' as const }], [0, 1], false, new AssertionFailure('pre', 'no SUID')), { verdict: 'failed', exitCode: 1, error: { stage: 'pre' } }, 'a pre check stops the run as a failure');
});
