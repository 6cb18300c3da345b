import t from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionFailure, InfraError, TeardownError, UsageError } from '../src/errors.js';
import { pointLatest, readTests, verdictOf, writeSummary, type Summary, type TestRecord } from '../src/report/summary.js';
import { EXIT, exitCodeFor, formatError } from '../src/cli/exit-codes.js';
import { parseTiers } from '../src/cli/args.js';
import { labelArgs } from '../src/image/buildah.js';
import { listFixtures, loadRecipe, mmdebstrapArgs, recipeHash, type Recipe } from '../src/fixtures/recipe.js';
import { DeadlineExceeded } from '../src/util/deadline.js';
import { FIXTURES_DIR } from '../src/util/paths.js';

const root = mkdtempSync(join(tmpdir(), 'bootc-harness-report-test-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const freshDir = () => {
  const d = join(root, `d${seq++}`);
  mkdirSync(d);
  return d;
};

const rec = (status: TestRecord['status'], id = `t.${status}`): TestRecord => ({ id, tier: 'tier0', status });

// ---------------------------------------------------------------- summary

t.test('verdictOf', async (t) => {
  t.equal(verdictOf([rec('passed'), rec('passed', 'b')], false), 'passed');
  t.equal(verdictOf([rec('skipped'), rec('skipped', 'b')], false), 'passed', 'skipped-only counts as passed');
  t.equal(verdictOf([rec('passed'), rec('skipped')], false), 'passed');
  t.equal(verdictOf([rec('passed'), rec('failed')], false), 'failed');
  t.equal(verdictOf([rec('skipped'), rec('timedOut')], false), 'failed', 'a timed-out test is a failure');
  t.equal(verdictOf([rec('passed'), rec('interrupted')], false), 'failed', 'an interrupted test is a failure');
  t.equal(verdictOf([rec('passed')], true), 'error', 'an infrastructure failure is an error even if tests passed');
  t.equal(verdictOf([rec('failed')], true), 'error', 'and wins over failed tests');
});

t.test('writeSummary and readTests round trip', async (t) => {
  const dir = freshDir();
  const tests: TestRecord[] = [
    { id: 'boot.multi-user', tier: 'tier0', status: 'passed' },
    { id: 'image.suid', tier: 'tier1', status: 'failed', error: '/usr/bin/sudo lost its SUID bit' },
    { id: 'zfs.module', tier: 'tier2', status: 'skipped', annotations: [{ type: 'skip', description: 'profile expects no ZFS' }] },
  ];
  const summary: Summary = {
    verdict: 'failed',
    exitCode: 1,
    source: 'fixture:trixie',
    profile: 'trixie',
    image: { ref: 'localhost/bootc-harness/trixie:abc', digest: 'sha256:' + '0'.repeat(64) },
    installer: 'direct',
    accel: 'tcg',
    accelReason: 'no /dev/kvm',
    kernel: { release: '6.12.48+deb13-amd64', tier: 'pre-6.15' },
    stages: [{ name: 'image', ms: 1234, cached: true }],
    tests,
    error: { stage: 'suites', message: 'one failed', consoleTail: 'last\nlines' },
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:05:00.000Z',
  };
  writeSummary(dir, summary);
  const text = readFileSync(join(dir, 'summary.json'), 'utf8');
  t.same(JSON.parse(text), summary, 'summary.json holds the summary');
  t.ok(text.endsWith('}\n'), 'ends with a newline');
  t.match(text, /^\{\n {2}"verdict": "failed",/, 'pretty-printed, verdict first');

  const testsFile = join(dir, 'tests.json');
  writeFileSync(testsFile, JSON.stringify(tests));
  t.same(readTests(testsFile), tests, 'tests read back');
  t.same(readTests(join(dir, 'missing.json')), [], 'no tests file, no tests');
});

t.test('pointLatest creates and then atomically replaces reports/latest', async (t) => {
  const reports = freshDir();
  mkdirSync(join(reports, 'run-1'));
  mkdirSync(join(reports, 'run-2'));
  writeFileSync(join(reports, 'run-2', 'summary.json'), '{"verdict":"passed"}');

  pointLatest(reports, 'run-1');
  const latest = join(reports, 'latest');
  t.ok(lstatSync(latest).isSymbolicLink(), 'latest is a symlink');
  t.equal(readlinkSync(latest), 'run-1', 'relative target, so the reports dir can move');

  const before = lstatSync(latest).ino;
  pointLatest(reports, 'run-2');
  t.equal(readlinkSync(latest), 'run-2', 'replaced');
  t.not(lstatSync(latest).ino, before, 'a new link renamed over the old one');
  t.equal(readFileSync(join(latest, 'summary.json'), 'utf8'), '{"verdict":"passed"}', 'resolves to the run');
  t.same(readdirSync(reports).sort(), ['latest', 'run-1', 'run-2'], 'no temporary link left behind');

  // A stale temporary link from a crashed run with our pid does not get in the way.
  symlinkSync('run-1', join(reports, `.latest-${process.pid}`));
  pointLatest(reports, 'run-1');
  t.equal(readlinkSync(latest), 'run-1');
  t.same(readdirSync(reports).sort(), ['latest', 'run-1', 'run-2']);
});

// ---------------------------------------------------------------- exit codes

t.test('exitCodeFor maps error classes to exit codes', async (t) => {
  t.equal(exitCodeFor(new UsageError('bad')), 2);
  t.equal(exitCodeFor(new AssertionFailure('suites', 'sudo lost SUID')), 1);
  t.equal(exitCodeFor(new InfraError('vm', 'qemu died')), 3);
  t.equal(exitCodeFor(new Error('plain')), 3, 'an unexpected error is infrastructure');
  t.equal(exitCodeFor(new DeadlineExceeded('boot', 1000)), 3);
  t.equal(exitCodeFor(new TeardownError([new Error('x')], 'x')), 3);
  t.equal(exitCodeFor('a string'), 3);
  t.same(EXIT, { passed: 0, failed: 1, usage: 2, infra: 3, interrupted: 130 });
});

t.test('formatError: one line for a UsageError; stage and console tail otherwise', async (t) => {
  const u = formatError(new UsageError('source directory /nope does not exist'));
  t.equal(u, 'bootc-harness: source directory /nope does not exist');
  t.notMatch(u, /\n/, 'one line');
  t.notMatch(u, /UsageError|at .*\.ts/, 'no class name, no stack');

  const a = formatError(new AssertionFailure('session', 'console: kernel panic', { consoleTail: 'l1\nl2' }));
  t.equal(a, 'bootc-harness: FAILED: [session] console: kernel panic\n--- console tail ---\nl1\nl2\n---');

  const i = Object.assign(new InfraError('vm', 'qemu exited 1'), { runDir: '/r/run-7' });
  t.equal(formatError(i), 'bootc-harness: ERROR: [vm] qemu exited 1\nreport: /r/run-7');
  t.equal(formatError(new Error('boom')), 'bootc-harness: ERROR: boom');
});

// ---------------------------------------------------------------- --tier

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

// ---------------------------------------------------------------- labels

t.test('labelArgs always carries containers.bootc=1', async (t) => {
  t.same(labelArgs({}), ['--label', 'containers.bootc=1']);
  t.same(labelArgs({ 'org.opencontainers.image.title': 'snow', 'com.example.build': '42' }), [
    '--label',
    'org.opencontainers.image.title=snow',
    '--label',
    'com.example.build=42',
    '--label',
    'containers.bootc=1',
  ]);
  t.same(labelArgs({ note: 'two words' }).slice(0, 2), ['--label', 'note=two words'], 'a value with a space stays one argument');
  t.same(labelArgs({ 'containers.bootc': '0' }), ['--label', 'containers.bootc=1'], 'a caller cannot switch the bootc label off');
});

// ---------------------------------------------------------------- fixture recipes

const MIRROR = 'http://deb.debian.org/debian';

t.test('loadRecipe(trixie) reads the real recipe', async (t) => {
  const r = loadRecipe('trixie');
  t.equal(r.name, 'trixie');
  t.equal(r.suite, 'trixie');
  t.same(r.components, ['main']);
  t.equal(r.variant, 'apt');
  for (const p of ['linux-image-amd64', 'systemd', 'openssh-server', 'sudo', 'iputils-ping']) t.ok(r.include.includes(p), `includes ${p}`);
  t.same(r.hooks, [join(FIXTURES_DIR, 'common/base.sh')], 'hooks resolved against the recipe directory');
  t.ok(existsSync(r.hooks[0]!), 'the hook exists');
  t.same(r.files['/usr/bin/ping'], { caps: 'cap_net_raw=ep' });
  t.same(r.files['/usr/bin/sudo'], { mode: '4755' });
  t.same(r.extraSuites, []);
  t.ok(listFixtures().includes('trixie'));
  t.notOk(listFixtures().includes('common'), 'a directory without recipe.json is not a fixture');
});

t.test('mmdebstrapArgs builds the bootstrap command line', async (t) => {
  const r = loadRecipe('trixie');
  const a = mmdebstrapArgs(r, MIRROR, '/var/cache/bootc-harness/fixtures/trixie.tmp', { keyring: null });
  t.equal(a[0], 'mmdebstrap');
  t.ok(a.includes('--mode=root'));
  t.ok(a.includes('--format=directory'));
  t.ok(a.includes('--variant=apt'));
  t.ok(a.includes('--components=main'));
  t.ok(a.includes(`--include=${r.include.join(',')}`), 'every package in one --include');
  t.ok(a.includes(`--customize-hook=${join(FIXTURES_DIR, 'common/base.sh')}`), 'the recipe hook');
  t.ok(a.includes('--customize-hook=setcap cap_net_raw=ep "$1/usr/bin/ping"'), 'ping gets its capability');
  t.ok(a.includes('--customize-hook=chmod 4755 "$1/usr/bin/sudo"'), 'sudo gets its mode');
  const hooks = a.filter((x) => x.startsWith('--customize-hook='));
  t.ok(
    hooks.indexOf(`--customize-hook=${join(FIXTURES_DIR, 'common/base.sh')}`) < hooks.indexOf('--customize-hook=setcap cap_net_raw=ep "$1/usr/bin/ping"'),
    'file bits are set after the recipe hooks',
  );
  // Positionals come last: suite, target, then the apt source.
  t.same(a.slice(-3), ['trixie', '/var/cache/bootc-harness/fixtures/trixie.tmp', `deb ${MIRROR} trixie main`]);
  t.notOk(a.slice(0, -3).some((x) => !x.startsWith('-') && x !== 'mmdebstrap'), 'everything before the positionals is an option');

  const withExtra: Recipe = { ...r, components: ['main', 'contrib'], extraSuites: ['trixie-backports'], include: [], hooks: [], files: {} };
  const b = mmdebstrapArgs(withExtra, MIRROR, '/t', { keyring: null });
  t.ok(b.includes('--components=main,contrib'), 'every component the recipe names');
  t.ok(b.includes('--aptopt=APT::Default-Release "trixie"'), 'extra suites never win by version alone');
  t.ok(b.includes('--dpkgopt=force-unsafe-io'), 'a build that dies is discarded whole: dpkg need not fsync');
  t.notOk(b.some((x) => x.startsWith('--include=') || x.startsWith('--customize-hook=')), 'nothing to include, no hooks');
  const suiteAt = b.indexOf('trixie');
  t.same(b.slice(suiteAt, suiteAt + 2), ['trixie', '/t'], 'the suite, then the target');
  t.same(b.slice(suiteAt + 2), [`deb ${MIRROR} trixie main contrib`, `deb ${MIRROR} trixie-backports main contrib`], 'then a source per suite, the recipe\'s first');
});

t.test('loadRecipe rejects unknown and unsafe fixtures', async (t) => {
  t.throws(() => loadRecipe('nope'), UsageError);
  t.throws(() => loadRecipe('nope'), { message: /^unknown fixture "nope" \(known: (.*, )?trixie(, .*)?\)$/ }, 'lists the known fixtures');
  t.throws(() => loadRecipe('../trixie'), { message: /^unknown fixture "\.\.\/trixie"/ }, 'no path traversal');
  t.throws(() => loadRecipe('common'), { message: /^unknown fixture "common"/ }, 'a directory without recipe.json');

  // Recipes whose values end up in shell hooks are validated.
  const dir = freshDir();
  const write = (name: string, recipe: unknown) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'recipe.json'), typeof recipe === 'string' ? recipe : JSON.stringify(recipe));
  };
  write('good', { suite: 'bookworm', include: ['systemd'] });
  write('badcaps', { suite: 'trixie', files: { '/usr/bin/ping': { caps: 'cap_net_raw=ep; rm -rf /' } } });
  write('badpath', { suite: 'trixie', files: { '/usr/bin/p"ing': { mode: '4755' } } });
  write('badmode', { suite: 'trixie', files: { '/usr/bin/sudo': { mode: 'u+s' } } });
  write('badsuite', { suite: 'trixie main' });
  write('badinclude', { suite: 'trixie', include: ['ok', 'evil,pkg'] });
  write('badhook', { suite: 'trixie', hooks: ['missing.sh'] });
  write('badjson', '{ not json');
  const g = loadRecipe('good', dir);
  t.same([g.suite, g.components, g.variant, g.include, g.extraSuites, g.hooks, g.files, g.kargs, g.root], ['bookworm', ['main'], 'apt', ['systemd'], [], [], {}, [], 'plain'], 'defaults');
  write('badroot', { suite: 'trixie', root: 'btrfs' });
  t.throws(() => loadRecipe('badroot', dir), { message: /root must be "plain" or "composefs", found "btrfs"/ });
  t.throws(() => loadRecipe('badcaps', dir), { message: /caps must look like cap_net_raw=ep/ });
  t.throws(() => loadRecipe('badpath', dir), { message: /must be an absolute path/ });
  t.throws(() => loadRecipe('badmode', dir), { message: /mode must be octal/ });
  t.throws(() => loadRecipe('badsuite', dir), { message: /suite must be a Debian suite name/ });
  t.throws(() => loadRecipe('badinclude', dir), { message: /include must be a list of package-like words/ });
  t.throws(() => loadRecipe('badhook', dir), { message: /hook .*missing\.sh does not exist/ });
  t.throws(() => loadRecipe('badjson', dir), { message: /recipe\.json is not valid JSON/ });
  t.throws(() => loadRecipe('nope', dir), { message: /known: badcaps, badhook, badinclude, badjson, badmode, badpath, badroot, badsuite, good\)$/ }, 'known list is sorted');
});

t.test('recipeHash: stable, and changes with the mirror and the recipe', async (t) => {
  const r = loadRecipe('trixie');
  const h = recipeHash(r, MIRROR);
  t.match(h, /^[0-9a-f]{16}$/);
  t.equal(recipeHash(loadRecipe('trixie'), MIRROR), h, 'same inputs, same hash');
  t.not(recipeHash(r, 'http://ftp.de.debian.org/debian'), h, 'another mirror, another hash');
  t.not(recipeHash({ ...r, include: [...r.include, 'vim'] }, MIRROR), h, 'another package list, another hash');
  t.not(recipeHash({ ...r, files: { ...r.files, '/usr/bin/ping': { caps: 'cap_net_admin=ep' } } }, MIRROR), h, 'other file bits, another hash');
});

t.test('events: each reads as one line with its time; stage ends carry the duration and whether cached', async (t) => {
  const { describeEvent } = await import('../src/report/events.js');
  const at = '2026-11-30T07:05:01.123Z';
  t.same(describeEvent({ event: 'stage-start', at, stage: 'disk' }), { time: '07:05:01', text: 'disk: started' });
  t.equal(describeEvent({ event: 'stage-end', at, stage: 'disk', ms: 20_940, cached: true }).text, 'disk: done in 20.9 s (cached)');
  t.equal(describeEvent({ event: 'stage-end', at, stage: 'session', ms: 1_000, cached: false, error: 'QEMU exited 1\nmore' }).text, 'session: failed in 1.0 s: QEMU exited 1', 'a failure: its first line');
  t.equal(describeEvent({ event: 'test', at, id: 'boot.kernel', tier: 'tier0', status: 'passed' }).text, 'passed tier0 boot.kernel');
  t.match(describeEvent({ event: 'verdict', at, verdict: 'failed', exitCode: 1, runDir: '/r/x' }).text, /^verdict: failed \(exit 1\), report \/r\/x$/);
});

t.test('the run page: the run first, every value escaped, failures before passes, the console when it failed', async (t) => {
  const { runPage } = await import('../src/report/run-page.js');
  const { newSummary } = await import('../src/report/summary.js');
  const s = newSummary({ source: 'output/<snow>', profile: 'snow', profileReason: 'the image\'s label', installer: 'bootc', stages: [{ name: 'disk', ms: 20_900, cached: true }], startedAt: '2026-11-30T07:00:00Z' });
  Object.assign(s, { verdict: 'failed', exitCode: 1, image: { ref: 'localhost/snow:1', digest: 'sha256:ab' }, kernel: { release: '6.12.1', tier: 'pre-6.15' }, tiers: { tier0: 'passed', tier1: 'failed' } });
  s.tests = [
    { id: 'boot.kernel', tier: 'tier0', status: 'passed' },
    { id: 'image.setid-bits', tier: 'tier1', status: 'failed', error: '/usr/bin/<sudo> lost "SUID"' },
  ];
  const html = runPage(s, { playwright: 'tests/index.html', files: ['console.log'], consoleTail: 'login: <prompt>' });
  t.notMatch(html, /<snow>|<sudo>|<prompt>/, 'nothing from the image reaches the page as markup');
  t.match(html, /output\/&lt;snow&gt;/);
  t.ok(html.indexOf('id="verdict"') < html.indexOf('id="tests"'), 'the verdict comes first');
  t.ok(html.indexOf('image.setid-bits') < html.indexOf('boot.kernel'), 'a failure is listed before a pass');
  t.match(html, /<pre id="console">login: &lt;prompt&gt;<\/pre>/, 'the console of a run that failed');
  t.match(html, /<td>disk<\/td><td>20\.9<\/td><td>yes<\/td>/, 'stages with their seconds and whether cached');
  t.notMatch(runPage({ ...s, verdict: 'passed' }, { files: [], consoleTail: 'x' }), /id="console"/, 'a passed run shows no console');
});

t.test('the boot profile: firmware, the guest to sshd (its own journal), sshd to ready (the harness)', async (t) => {
  const { bootProfile, sshdListeningMs } = await import('../src/report/boot-profile.js');
  const journal = '[    0.000000] vm kernel: Linux version 6.12\n[   30.723044] vm sshd[359]: Server listening on 0.0.0.0 port 22.\n[   30.731373] vm sshd[359]: Server listening on :: port 22.\n';
  t.equal(sshdListeningMs(journal), 30_723, 'the first "Server listening"');
  t.equal(sshdListeningMs('no sshd here'), undefined);
  const p = bootProfile({ vmStartedAt: 1_000_000, kernelAt: 1_006_000, readyAt: 1_038_000 }, journal);
  t.same(p, { vmToReadyMs: 38_000, firmwareMs: 6_000, kernelToSshdMs: 30_723, sshdToReadyMs: 1_277 });
  t.same(bootProfile({ vmStartedAt: 0, readyAt: 5 }, undefined), { vmToReadyMs: 5 }, 'what cannot be known is left out');
});
