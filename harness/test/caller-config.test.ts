// bootc-harness.toml at the caller's repository root: defaults for a run there; paths in
// it are the file's; a bad file is one line naming it and the key.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCallerConfig } from '../src/run/caller-config.js';
import { installOptions } from '../src/cli/args.js';

function repo(t: { teardown: (fn: () => void) => void }, toml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'caller-repo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (toml !== undefined) writeFileSync(join(dir, 'bootc-harness.toml'), toml);
  return dir;
}

t.test('no file: no config', async (t) => {
  t.equal(readCallerConfig(repo(t)), undefined);
});

t.test('profile, suites, tiers and require, paths resolved against the file', async (t) => {
  const dir = repo(t, 'profile = "ci/snow.json"\nsuites = ["tests/vm"]\ntiers = [0, 1, 2]\nrequire = "0,1,user"\n');
  t.same(readCallerConfig(dir), { file: join(dir, 'bootc-harness.toml'), profile: join(dir, 'ci/snow.json'), suites: [join(dir, 'tests/vm')], tiers: '0,1,2', require: '0,1,user' });
  const named = repo(t, 'profile = "snow"\n');
  t.equal(readCallerConfig(named)?.profile, 'snow', 'a shipped profile stays a name');
});

t.test('bad files: one line naming the file and the key', async (t) => {
  const bad = (toml: string) => () => readCallerConfig(repo(t, toml));
  t.throws(bad('profile = 3\n'), { name: 'UsageError', message: /bootc-harness\.toml: profile must be a profile name or a path to a profile file, found 3$/ });
  t.throws(bad('suite = ["x"]\n'), { name: 'UsageError', message: /bootc-harness\.toml: unknown key suite/ });
  t.throws(bad('suites = "tests"\n'), { name: 'UsageError', message: /suites must be a list of directories/ });
  t.throws(bad('tiers = [\n'), { name: 'UsageError', message: /bootc-harness\.toml is not valid TOML: / });
});

t.test('a run in that repository takes its defaults; flags win', async (t) => {
  const dir = repo(t, 'profile = "./mine.json"\nsuites = ["checks"]\ntiers = "0"\nrequire = [0, "user"]\n');
  mkdirSync(join(dir, 'checks'));
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  const signal = new AbortController().signal;
  const o = installOptions('test-install', { json: true }, [], undefined, signal);
  o.terminal.close();
  t.equal(o.profile, join(dir, 'mine.json'));
  t.match(o.profileReason, /named by .*bootc-harness\.toml/);
  t.same(o.userSuites, [join(dir, 'checks')]);
  t.same(o.tiers, [0]);
  t.equal(o.tiersExplicit, true);
  const g = installOptions('gate', { json: true, profile: 'trixie', suites: ['checks'] }, [], undefined, signal);
  g.terminal.close();
  t.same(g.tiers, [0], "gate runs the file's require");
  t.equal(g.profile, 'trixie', '--profile wins');
  t.equal(g.profileReason, undefined);
  t.throws(() => installOptions('test-install', { json: true, suites: ['nope'] }, [], undefined, signal), { name: 'UsageError', message: '--suites nope: no such directory' });
  rmSync(join(dir, 'bootc-harness.toml'));
  t.throws(() => installOptions('test-install', { json: true }, [], '0,user', signal), { name: 'UsageError', message: /tier "user" needs the caller's suites/ });
});
