// Command-line parsing: --tier.
import t from 'tap';
import { UsageError } from '../src/errors.js';
import { parseTiers } from '../src/cli/args.js';

t.test('parseTiers', async (t) => {
  t.same(parseTiers('0,1'), [0, 1]);
  t.same(parseTiers('tier2'), [2]);
  t.same(parseTiers('tier0,tier3'), [0, 3]);
  t.same(parseTiers('1,1,0,1'), [0, 1], 'duplicates removed, sorted');
  t.same(parseTiers(' 4 , 2 '), [2, 4], 'spaces around items');
  t.same(parseTiers(undefined), [0, 1, 2, 3, 4], 'no flag: every tier');
  for (const bad of ['9', 'x', '', '1,,2', '-1', '1.5', 'tier', '5']) {
    t.throws(() => parseTiers(bad), UsageError, `"${bad}" is rejected`);
  }
  t.throws(() => parseTiers('0,9'), { message: 'unknown tier "9" (tiers are 0, 1, 2, 3, 4)' }, 'names the bad tier and the good ones');
});
