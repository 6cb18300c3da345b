// A verdict is a claim: a tier passes only when a test of it ran and passed; asked for by
// name and not tested, it fails naming why; what the run itself did is expected too.
import t from 'tap';
import { notTestedMessage, tierStatuses, withRunExpectations } from '../src/report/tiers.js';
import { loadProfile } from '../src/profile/profile.js';
import type { TestRecord } from '../src/report/summary.js';

const skipped = (id: string, tier: string, why: string): TestRecord => ({ id, tier, status: 'skipped', annotations: [{ type: 'skip', description: why }] });
const TESTS: TestRecord[] = [
  { id: 'boot.multi-user', tier: 'tier0', status: 'passed' },
  { id: 'image.setid-bits', tier: 'tier1', status: 'failed', error: 'lost SUID' },
  skipped('zfs.module-loads', 'tier2', 'the profile does not expect ZFS'),
  skipped('luks.root-on-crypt', 'tier3', 'the profile does not expect a LUKS2 root unlocked by TPM2'),
  skipped('luks.tpm2-token', 'tier3', 'the profile does not expect a LUKS2 root unlocked by TPM2'),
];

t.test('all skipped is never passed: not applicable by default, not tested when asked for by name', async (t) => {
  t.same(tierStatuses(TESTS, [0, 1, 2, 3], false), { tier0: 'passed', tier1: 'failed', tier2: 'not-applicable', tier3: 'not-applicable' });
  t.same(tierStatuses(TESTS, [0, 3], true), { tier0: 'passed', tier3: 'not-tested' });
  t.same(tierStatuses([], [4], true), { tier4: 'not-tested' }, 'no test at all: not tested');
});

t.test('a tier not tested is named with why each of its tests skipped', async (t) => {
  const m = notTestedMessage('tier3', TESTS);
  t.match(m, /^tier3 was asked for with --tier but no test of it ran:/);
  t.match(m, /luks\.root-on-crypt: skipped \(the profile does not expect a LUKS2 root unlocked by TPM2\)/);
  t.match(m, /luks\.tpm2-token: skipped/);
});

t.test('what the run did is expected: an encrypted root expects tier 3, a composefs layout tier 4', async (t) => {
  const plain = await loadProfile('trixie');
  t.equal(plain.expect.luks, null);
  const luks = withRunExpectations(plain, { luks: 'tpm2', rootLayout: 'plain' });
  t.same(luks.expect.luks, { tpm2: true });
  t.equal(plain.expect.luks, null, 'the profile itself is not changed');
  const cfs = withRunExpectations(plain, { luks: 'none', rootLayout: 'composefs' });
  t.same(cfs.expect.composefs, { verity: 'none' });
  const untouched = withRunExpectations(plain, { luks: 'none', rootLayout: 'plain' });
  t.same(untouched.expect, plain.expect, 'nothing done, nothing added');
});

t.test('the gate screen: each required tier with its counts, why a tier was not tested, kernel, image digest, report', async (t) => {
  const { gateScreen } = await import('../src/report/gate.js');
  const summary = {
    verdict: 'failed', exitCode: 1, source: 'fixture:trixie', profile: 'trixie', image: { ref: 'localhost/bootc-harness/trixie:abc', digest: `sha256:${'a'.repeat(64)}` },
    installer: 'direct', accel: 'tcg', accelReason: '', kernel: { release: '6.12.117+deb13-amd64', tier: 'pre-6.15' }, stages: [], tests: TESTS,
    tiers: tierStatuses(TESTS, [0, 1, 3], true), startedAt: '', finishedAt: '',
  } as const;
  const screen = gateScreen(summary as never, [0, 1, 3], '/r/run-1');
  t.match(screen, /^gate: FAILED: required tiers 0, 1, 3 of fixture:trixie \(profile trixie\)/);
  t.match(screen, /tier0 +passed +1 +0 +0/);
  t.match(screen, /tier1 +failed +0 +1 +0\n +image\.setid-bits: lost SUID/, 'a failed tier names its failed test');
  t.match(screen, /tier3 +not-tested +0 +0 +2\n +luks\.root-on-crypt: skipped \(the profile does not expect/, 'a tier not tested names why');
  t.match(screen, /kernel {2}6\.12\.117\+deb13-amd64 \(pre-6\.15 tier\)/);
  t.match(screen, new RegExp(`image {3}localhost/bootc-harness/trixie:abc sha256:a{64}`));
  t.match(screen, /report {2}\/r\/run-1/);
  const green = gateScreen({ ...summary, tiers: { tier0: 'passed' } } as never, [0], '/r');
  t.match(green, /^gate: PASSED/);
});

t.test('a CI row requires the tiers its profile expects: boot and image always, the rest as expected', async (t) => {
  const { requiredTiers } = await import('../src/run/matrix.js');
  t.same(requiredTiers(await loadProfile('trixie')), [0, 1, 2], 'trixie lists services');
  t.same(requiredTiers(await loadProfile('luks-tpm2')).includes(3), true, 'a TPM2-sealed root requires tier 3');
  t.same(requiredTiers(await loadProfile('composefs-default')).includes(4), true, 'a composefs root requires tier 4');
});
