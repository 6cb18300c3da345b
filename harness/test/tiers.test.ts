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
