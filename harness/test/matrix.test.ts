// The matrix's pure parts: which rows, how many at once, the table.
import t from 'tap';
import { UsageError } from '../src/errors.js';
import { chooseRows, defaultMatrixJobs, matrixTable } from '../src/run/matrix.js';
import type { Profile } from '../src/profile/profile.js';

t.test('matrixTable has a row per profile with kernel and tier', async (t) => {
  const table = matrixTable([
    { profile: 'bookworm', expectedTier: 'rhel9', kernel: { release: '6.1.0-50-amd64', tier: 'rhel9' }, verdict: 'passed', exitCode: 0, passed: 9, failed: 0, skipped: 3, report: 'r1' },
    { profile: 'trixie', expectedTier: 'pre-6.15', kernel: { release: '', tier: '' }, verdict: 'error', exitCode: 3, passed: 0, failed: 0, skipped: 0, report: 'r2' },
  ]);
  const lines = table.trim().split('\n');
  t.equal(lines.length, 4, 'header, rule, two rows');
  t.match(lines[2], /^\| bookworm \| 6\.1\.0-50-amd64 \| rhel9 \| passed \| 9 \| 0 \| 3 \| r1 \|$/);
  t.match(lines[3], /^\| trixie \| - \| pre-6\.15 \| error \|/, 'a run that never booted shows the expected tier');
});

t.test('--rows: the rows named, in matrix order; a name that is no row is bad input', async (t) => {
  const rows = ['bookworm', 'trixie', 'trixie-6.18'].map((name) => ({ name }) as Profile);
  t.same(chooseRows(rows, undefined).map((p) => p.name), ['bookworm', 'trixie', 'trixie-6.18'], 'none named: every row');
  t.same(chooseRows(rows, ['trixie-6.18', 'bookworm']).map((p) => p.name), ['bookworm', 'trixie-6.18'], 'the kernel-tier order is kept');
  t.throws(() => chooseRows(rows, ['trixie', 'sid']), UsageError);
  t.throws(() => chooseRows(rows, ['sid']), /sid is not a matrix row \(rows: bookworm, trixie, trixie-6\.18\)/);
});

t.test('rows at once by default: one VM per two host cores', async (t) => {
  t.equal(defaultMatrixJobs(1), 1, 'never none');
  t.equal(defaultMatrixJobs(2), 1, 'this machine: measured, two at once gained nothing outside the noise');
  t.equal(defaultMatrixJobs(4), 2);
  t.equal(defaultMatrixJobs(7), 3);
});
