// Bad input: one clear line on stderr, exit 2, nothing started or left behind.
import t from 'tap';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cli } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'bh-bad-input-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const empty = join(tmp, 'empty');
mkdirSync(empty);
const noKernel = join(tmp, 'nokernel');
mkdirSync(join(noKernel, 'etc'), { recursive: true });
writeFileSync(join(noKernel, 'etc/os-release'), 'ID=debian\n');
// A rootfs layout with a kernel file but no bootc: enough for input checks, which run before any use of it.
const withKernel = join(tmp, 'withkernel');
mkdirSync(join(withKernel, 'usr/lib/modules/6.1.0-test'), { recursive: true });
writeFileSync(join(withKernel, 'usr/lib/modules/6.1.0-test/vmlinuz'), '');
// A rootfs that goes by the name of a profile whose image installs with bootc, without bootc.
const snow = join(tmp, 'output/snow');
mkdirSync(join(snow, 'usr/lib/modules/6.12.0-test'), { recursive: true });
writeFileSync(join(snow, 'usr/lib/modules/6.12.0-test/vmlinuz'), '');
// Crafted trees whose defect is decided before anything starts: a FIFO as os-release, as the kernel.
const fifoOsRelease = join(tmp, 'fifo-os-release');
mkdirSync(join(fifoOsRelease, 'usr/lib/modules/6.1.0-test'), { recursive: true });
writeFileSync(join(fifoOsRelease, 'usr/lib/modules/6.1.0-test/vmlinuz'), '');
mkdirSync(join(fifoOsRelease, 'etc'));
execFileSync('mkfifo', [join(fifoOsRelease, 'etc/os-release')]);
const fifoKernel = join(tmp, 'fifo-kernel');
mkdirSync(join(fifoKernel, 'usr/lib/modules/6.1.0-test'), { recursive: true });
execFileSync('mkfifo', [join(fifoKernel, 'usr/lib/modules/6.1.0-test/vmlinuz')]);
const openCache = join(tmp, 'open-cache');
mkdirSync(openCache);
execFileSync('chmod', ['0777', openCache]);
const aFile = join(tmp, 'file');
writeFileSync(aFile, 'x');
const work = join(tmp, 'work');
// The caller's files: a profile with a typo, two that extend each other, a repository whose bootc-harness.toml is wrong.
const typo = join(tmp, 'typo.json');
writeFileSync(typo, JSON.stringify({ extends: 'trixie', expect: { zfs: 'yes' } }));
writeFileSync(join(tmp, 'ping.json'), JSON.stringify({ extends: './pong.json', description: 'ping' }));
writeFileSync(join(tmp, 'pong.json'), JSON.stringify({ extends: './ping.json', description: 'pong' }));
const badRepo = join(tmp, 'bad-repo');
mkdirSync(badRepo);
writeFileSync(join(badRepo, 'bootc-harness.toml'), 'suites = "checks"\n');

const cases: [string, string[], RegExp, Record<string, string>?][] = [
  ['missing path', ['test-install', join(tmp, 'nope')], /does not exist/],
  ['file instead of directory', ['test-install', aFile], /is a file, expected a rootfs directory/],
  ['empty directory', ['test-install', empty], /is empty/],
  ['rootfs without kernel', ['test-install', noKernel], /has no kernel/],
  ['malformed image reference', ['test-install', 'quay.io/Foo/BAR:::x'], /malformed image reference/],
  ['unknown profile', ['test-install', '--profile', 'no-such-profile'], /unknown profile "no-such-profile" \(known: .*trixie/],
  ['unknown tier', ['test-install', '--tier', '0,9'], /unknown tier "9"/],
  ['bad accel', ['test-install', '--accel', 'fast'], /--accel must be one of auto, kvm, tcg/],
  ['unknown flag', ['test-install', '--frobnicate'], /frobnicate/],
  ['bad luks', ['test-install', '--luks', 'yes'], /--luks must be one of tpm2, none/],
  ['fresh TPM without a sealed root', ['test-install', '--fresh-tpm'], /--fresh-tpm only means something with a TPM2-sealed root/],
  ['bad placement', ['test-install', '--placement', 'cloud'], /--placement must be one of host, vm/],
  ['installer VM with nothing to run in it', ['test-install', '--placement', 'vm'], /--placement vm: only a TPM2-sealed root \(--luks tpm2\) or the bootc installer/],
  ['bootc installer VM without bootc', ['test-install', withKernel, '--installer', 'bootc', '--placement', 'vm'], /--installer bootc: .* has no \/usr\/bin\/bootc/],
  ['bootc installer without bootc', ['test-install', withKernel, '--installer', 'bootc'], /--installer bootc: .* has no \/usr\/bin\/bootc/],
  ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
  ['a FIFO as the image\'s os-release', ['test-install', fifoOsRelease, '--installer', 'direct'], /^bootc-harness: \/etc\/os-release in the image is a FIFO, expected a regular file: refusing to read it$/],
  ['a FIFO as the image\'s kernel', ['test-install', fifoKernel, '--installer', 'direct'], /^bootc-harness: \/usr\/lib\/modules\/6\.1\.0-test\/vmlinuz in the image is a FIFO, expected a regular file$/],
  ['a cache directory others can write', ['test-install', withKernel, '--installer', 'direct'], /^bootc-harness: cache directory .*open-cache is writable by anyone \(mode 777\): refusing to use it$/, { BOOTC_HARNESS_CACHE: openCache }],
  ['doctor with an argument', ['doctor', 'now'], /doctor takes no arguments but --profile NAME \(repeatable\) and --json/],
  ['doctor for an unknown profile', ['doctor', '--profile', 'no-such-profile'], /unknown profile "no-such-profile"/],
  ['a matrix row that is not one', ['matrix', '--rows', 'trixie,no-such-row'], /--rows: no-such-row is not a matrix row \(rows: .*trixie/],
  ['negative tier', ['test-install', '--tier', '-1'], /unknown tier "-1"/],
  ['a rootfs named after a bootc profile, without bootc', ['test-install', snow], /profile snow \(the source's name "snow"\) installs with bootc, but .*output\/snow has no \/usr\/bin\/bootc/],
  ['missing containers-storage image', ['test-install', 'containers-storage:localhost/bootc-harness/no-such-image:1'], /containers-storage: no image localhost\/bootc-harness\/no-such-image:1/],
  ['manifest of a missing image', ['manifest', 'containers-storage:localhost/bootc-harness/no-such-image:1'], /manifest: no image localhost\/bootc-harness\/no-such-image:1/],
  ['unknown fixture', ['fixtures', 'build', 'no-such-fixture'], /unknown fixture "no-such-fixture" \(known: .*trixie/],
  ['package from a missing dir', ['package', join(tmp, 'nope'), 'localhost/x:y'], /does not exist/],
  ['package to a malformed name', ['package', withKernel, 'Not A Name'], /malformed image name/],
  ['ssh to a run that is not kept', ['ssh', 'no-such-run', '--', 'true'], /no kept run "no-such-run" \(none is kept: run test-install --keep\)/],
  ['ssh without a run', ['ssh'], /ssh needs RUN/],
  ['suites against a run that is not kept', ['suites', 'no-such-run', '--tier', '1'], /no kept run "no-such-run"/],
  ['suites with a broken --grep', ['suites', 'no-such-run', '--grep', '(unclosed'], /--grep: Invalid regular expression/],
  ['stop a run that is not kept', ['stop', 'no-such-run'], /no kept or abandoned run "no-such-run"/],
  ['stop without a run', ['stop'], /stop needs one RUN, or --all/],
  ['clean with an argument', ['clean', 'x'], /clean takes no arguments/],
  ['gate of a run with no report', ['gate', '--run', 'no-such-run', '--require', '0,1'], /gate --run: no report at .*no-such-run \(summary\.json\)/],
  ['gate with --json', ['gate', '--require', '0', '--json'], /gate answers with one screen: --json is for test-install/],
  ['gate --run with a SOURCE', ['gate', '--run', 'x', '--require', '0', withKernel], /gate --run RUN takes no SOURCE/],
  ["a caller's profile with a typo", ['test-install', '--profile', typo], /^bootc-harness: profile "typo": expect\.zfs must be a boolean, found "yes"$/],
  ["caller's profiles that extend each other", ['test-install', '--profile', join(tmp, 'ping.json')], /profile "ping": extends goes round in a circle: ping\.json -> pong\.json -> ping\.json$/],
  ['--suites that is not there', ['test-install', '--suites', join(tmp, 'nope')], /--suites .*nope: no such directory$/],
  ['tier user without suites', ['test-install', '--tier', '0,user'], /tier "user" needs the caller's suites: --suites DIR/],
  ['gate requiring user without suites', ['gate', '--require', 'user'], /tier "user" needs the caller's suites/],
];

// Each case is a CLI process that exits at once: four at a time (a node start is most of it).
t.jobs = 4;

for (const [i, [name, args, re, env]] of cases.entries()) {
  t.test(name, async (t) => {
    // Its own work root: the cases run four at a time, and one that reaches the host checks
    // (a swtpm started in the work root) must not be counted against another.
    const work = join(tmp, `work-${i}`);
    const r = await cli(args, { BOOTC_HARNESS_WORK: work, ...(env ?? {}) });
    t.equal(r.code, 2, 'exit code 2');
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, name === 'unknown command' ? lines.length : 1, `one line: ${r.stderr}`);
    t.match(lines[0], re);
    t.equal(r.stdout, '', 'nothing on stdout');
    t.same(existsSync(work) ? readdirSync(work) : [], [], 'no run was started');
  });
}

t.test("a bad bootc-harness.toml in the caller's directory: one line naming it, exit 2", async (t) => {
  const r = await cli(['test-install'], { BOOTC_HARNESS_WORK: work }, badRepo);
  t.equal(r.code, 2);
  t.match(r.stderr.trim(), /^bootc-harness: .*bad-repo\/bootc-harness\.toml: suites must be a list of directories, found "checks"$/);
  t.same(existsSync(work) ? readdirSync(work) : [], [], 'no run was started');
});

t.test('a work directory others can write is refused before anything starts', async (t) => {
  const open = join(tmp, 'open-work');
  mkdirSync(open, { mode: 0o777 });
  execFileSync('chmod', ['0777', open]);
  const r = await cli(['test-install', withKernel, '--installer', 'direct'], { BOOTC_HARNESS_WORK: open });
  t.equal(r.code, 2);
  t.match(r.stderr.trim(), /^bootc-harness: work directory .*open-work is writable by anyone \(mode 777\): refusing to use it$/);
  t.same(readdirSync(open), [], 'nothing was started in it');
});

t.test('no command: the usage, on stderr, exit 2', async (t) => {
  const r = await cli([]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^usage:\n  bootc-harness test-install/);
});

t.test('a missing image starts no run: no run directory, reports/latest not moved', async (t) => {
  const reports = join(tmp, 'reports');
  mkdirSync(reports);
  const r = await cli(['test-install', 'containers-storage:localhost/bootc-harness/no-such-image:1', '--report', reports]);
  t.equal(r.code, 2);
  t.same(readdirSync(reports), [], 'nothing written');
});

const kvmOk = (() => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();
t.test('--accel kvm where KVM is not usable is refused before the image stage', { skip: kvmOk && 'this host has /dev/kvm' }, async (t) => {
  const r = await cli(['test-install', withKernel, '--accel', 'kvm'], { BOOTC_HARNESS_WORK: work });
  t.equal(r.code, 2);
  t.match(r.stderr.trim(), /^bootc-harness: --accel kvm: KVM does not run guests here \(.*\); use --accel auto or tcg$/);
  t.notMatch(r.stderr, /image:/, 'the image stage never started');
});

t.test('not enough disk space', { skip: process.getuid?.() !== 0 && 'needs root to mount a small tmpfs' }, async (t) => {
  const small = join(tmp, 'small');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', small]);
  t.teardown(() => execFileSync('umount', [small]));
  const r = await cli(['test-install', withKernel, '--installer', 'direct'], { BOOTC_HARNESS_WORK: small });
  t.equal(r.code, 2);
  t.match(r.stderr.trim(), /^bootc-harness: not enough disk space in .*: 0\.0 GiB free, \d+\.\d GiB needed$/);
});
