// `test-install output/snow` as a snosi user runs it: a tree mkosi wrote with Format=directory
// (fixtures/snow-mkosi, configured like snosi's base), judged by the profile its os-release
// names; and the same tree without snosi's first-boot settings, whose first boot stops at
// systemd-firstboot's prompt: named at once as the image's fault, never retried.
//
// Cost (measured on 2 shared cores, TCG): the mkosi build of snow-mkosi (61 s with mkosi's
// package cache warm, a few minutes of downloads cold; cached afterwards, broken-firstboot is a
// 4 s copy of it), then two boots: one healthy, tiers 0 and 1 (120 s in all, of which 22 s
// packaging the directory and 18 s installing), one that ends 5 s after the prompt (64 s in all).
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { findLeftovers } from '../src/run/leftovers.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';

t.test('a mkosi Format=directory tree at output/snow runs under the profile its IMAGE_ID names, and passes tiers 0 and 1', { skip }, async (t) => {
  const built = await cli(['fixtures', 'build', 'snow-mkosi']);
  t.equal(built.code, 0, `the mkosi fixture builds\n${built.stderr.slice(-2000)}`);
  const rootfs = /(\/\S+\/snow-mkosi-[0-9a-f]+\/rootfs)/.exec(built.stdout + built.stderr)?.[1];
  t.ok(rootfs, 'the build names its tree');
  if (!rootfs) return;
  // A tree where snosi's mkosi writes it: output/snow (the name alone would pick the bootc "snow" profile).
  const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-snow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'output'));
  execFileSync('cp', ['-a', rootfs, join(dir, 'output/snow')]);
  const r = await cli(['test-install', join(dir, 'output/snow'), '--tier', '0,1']);
  t.equal(r.code, 0, `passed\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  t.equal(s.profile, 'snow-mkosi', 'judged by the snow-like profile');
  t.match(s.profileReason ?? '', /IMAGE_ID=snow-mkosi/, "named by the tree's os-release, not its directory's name");
  t.equal(s.verdict, 'passed');
  t.same(await findLeftovers(), [], 'nothing left behind');
});

t.test("the same tree without snosi's first-boot settings stops at systemd-firstboot's prompt: exit 1 at once, named, no retry", { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'broken-firstboot', '--tier', '0,1']);
  t.equal(r.code, 1, `exit 1, the image's fault\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  const failed = s.tests.find((x) => x.status === 'failed');
  t.equal(failed?.tier, 'tier0');
  t.equal(failed?.id, 'boot.reached-ssh');
  t.match(failed?.error ?? '', /systemd-firstboot is waiting at its interactive prompt .*\[firstboot-prompt, systemd-firstboot\.service\]/, 'names the prompt and the unit behind it');
  t.match(r.stderr, /systemd-firstboot\.service/, 'stderr says so too');
  t.same(s.retries ?? [], [], 'no infrastructure retry');
  const session = s.stages.find((x) => x.name === 'session');
  t.ok(session && session.ms < 300_000, `ended during boot (${((session?.ms ?? 0) / 1000).toFixed(0)} s), not at the SSH budget`);
  t.same(await findLeftovers(), [], 'nothing left behind');
});
