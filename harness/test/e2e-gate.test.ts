// The release gate for real: required tiers that ran and passed are shown as such, and a
// required tier in which nothing ran (tier 3 on an image without LUKS) fails the gate,
// naming why each of its tests skipped.
//
// Boots: one. The passing half (tiers 0 and 1 passed on the default fixture) and the
// failing half (tier 3 not tested) are read from the same run's screen.
import t from 'tap';
import { findLeftovers } from '../src/util/leftovers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, VM_TESTS } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

t.test('gate --require 0,1,3 on the default fixture: tiers 0 and 1 passed, tier 3 not tested, exit 1', { skip }, async (t) => {
  const r = await cli(['gate', '--require', '0,1,3']);
  t.equal(r.code, 1, `exit 1\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  t.match(r.stdout, /^gate: FAILED: required tiers 0, 1, 3 of fixture:trixie/m);
  t.match(r.stdout, /^ {2}tier0 +passed +\d+ +0 /m, 'tier 0 ran and passed');
  t.match(r.stdout, /^ {2}tier1 +passed +\d+ +0 /m, 'tier 1 ran and passed');
  t.match(r.stdout, /^ {2}tier3 +not-tested +0 +0 +\d+/m, 'tier 3: nothing ran');
  t.match(r.stdout, /luks\.root-on-crypt: skipped \(the profile does not expect a LUKS2 root unlocked by TPM2\)/, 'and why');
  t.match(r.stdout, /^ {2}kernel {2}6\.12\./m);
  t.match(r.stdout, /^ {2}image {3}localhost\/bootc-harness\/trixie:\S+ sha256:[0-9a-f]{64}/m, 'the image and its digest');
  const report = /^ {2}report {2}(\S+)$/m.exec(r.stdout)?.[1];
  t.ok(report, 'the screen names the report');
  const s = JSON.parse(readFileSync(join(report!, 'summary.json'), 'utf8')) as Summary;
  t.same(s.tiers, { tier0: 'passed', tier1: 'passed', tier3: 'not-tested' });
  t.same(await findLeftovers(), [], 'nothing left behind');
});
