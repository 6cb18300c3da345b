// `doctor` on this host, and on hosts made broken on purpose: a tool missing from PATH, a work
// root on a read-only or noexec mount (tmpfs, mounted here and removed), a work root where swtpm
// cannot create its socket (a path longer than a unix socket's 108 bytes). Each is named, doctor
// exits 3, and test-install stops before its fixture stage with the same line. No VM, no fixture:
// the cache root is a fresh directory, so the KVM probe has no kernel to boot (a host with one in
// /boot probes it: about 2 s under KVM).
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';
import { compareVersions, findingLine, inEngines, mountOf, spaceNeeded } from '../src/host/doctor.js';

const tmp = mkdtempSync(join(tmpdir(), 'bh-doctor-'));
const mounts: string[] = [];
t.teardown(() => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  rmSync(tmp, { recursive: true, force: true });
});
const cache = join(tmp, 'cache');
const work = join(tmp, 'work');
// A rootfs with a kernel: test-install's input checks pass, so the host check is what stops it.
const rootfs = join(tmp, 'rootfs');
mkdirSync(join(rootfs, 'usr/lib/modules/6.1.0-test'), { recursive: true });
writeFileSync(join(rootfs, 'usr/lib/modules/6.1.0-test/vmlinuz'), '');

const CHECKS = ['node', 'tool qemu', 'tool swtpm', 'tool buildah', 'tool skopeo', 'tool podman', 'tool virtiofsd', 'tool mkcomposefs', 'tool cryptsetup', 'tool mtools', 'tool bwrap', 'uefi firmware', 'kvm', 'vsock', 'loop devices', 'work root', 'space work', 'space cache', 'apparmor', 'selinux', 'sandbox tree readers', 'swtpm socket'];

t.test('this host: every check with its finding, exit 0', async (t) => {
  const r = await cli(['doctor'], { BOOTC_HARNESS_WORK: work, BOOTC_HARNESS_CACHE: cache });
  t.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  for (const c of CHECKS) t.ok(lines.some((l) => l.slice(5).startsWith(`${c}: `)), `a line for ${c}`);
  t.notOk(lines.some((l) => l.startsWith('FAIL')), 'nothing fails');
  t.match(r.stdout, /^(ok {3}kvm: .*KVM probe|WARN kvm: .*guests run under TCG)/m, 'KVM: works, or what a run does without it');
  t.match(r.stdout, /^(ok {3}vsock: \/dev\/vhost-vsock present|WARN vsock: no \/dev\/vhost-vsock: guests get no vsock device)/m, 'vsock, with its consequence');
  t.match(r.stdout, /^ok {3}swtpm socket: swtpm created its state and socket in /m, 'swtpm really ran in the work root');
  t.same(readdirSync(work), [], 'and left nothing there');
  const json = await cli(['doctor', '--json'], { BOOTC_HARNESS_WORK: work, BOOTC_HARNESS_CACHE: cache });
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { check: string; status: string; found: string }[] };
  t.equal(json.code, 0);
  t.equal(parsed.ok, true);
  t.same(CHECKS.filter((c) => !parsed.checks.some((x) => x.check === c)), [], '--json: the same checks, as data');
  t.ok(parsed.checks.every((c) => ['ok', 'warn', 'fail'].includes(c.status) && c.found.length > 0), 'each with its status and finding');
});

/** doctor and test-install on a broken host: both exit 3, test-install with doctor's FAIL line, before its fixture stage. */
async function brokenHost(t: Test, env: Record<string, string>, line: RegExp, workRoot: string) {
  const d = await cli(['doctor'], { BOOTC_HARNESS_CACHE: cache, ...env });
  t.equal(d.code, 3, 'doctor exits 3');
  const fail = d.stdout.split('\n').find((l) => line.test(l));
  t.ok(fail, `doctor names it:\n${d.stdout}`);
  const r = await cli(['test-install', rootfs], { BOOTC_HARNESS_CACHE: cache, ...env });
  t.equal(r.code, 3, 'test-install exits 3');
  t.ok(fail && r.stderr.includes(fail), `test-install stops with the same line:\n${r.stderr}`);
  t.notMatch(r.stderr, /fixture|image:/, 'before its fixture and image stages');
  t.same(readdirSync(workRoot).filter((n) => !n.startsWith('.lanes')), [], 'no run was started');
}

t.test('a tool missing from PATH', async (t) => {
  // Every command of the usual PATH but buildah.
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (n !== 'buildah') try { symlinkSync(join(d, n), join(bin, n)); } catch { /* already linked from an earlier dir */ }
  }
  await brokenHost(t, { PATH: bin, BOOTC_HARNESS_WORK: work }, /^FAIL tool buildah: not found; fix: install buildah, or run: just setup$/, work);
});

const root = process.getuid?.() === 0;

t.test('a work root on a read-only mount', { skip: !root && 'mounting needs root' }, async (t) => {
  const mnt = join(tmp, 'ro');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', mnt]);
  mounts.push(mnt);
  mkdirSync(join(mnt, 'work'), { mode: 0o700 });
  execFileSync('mount', ['-o', 'remount,ro', mnt]);
  await brokenHost(t, { BOOTC_HARNESS_WORK: join(mnt, 'work') }, /^FAIL work root: .*\/ro\/work is on a read-only mount \(.*\/ro\): run directories, disks and the TPM's state cannot be written there; fix: set BOOTC_HARNESS_WORK/, join(mnt, 'work'));
});

t.test('a work root on a noexec mount', { skip: !root && 'mounting needs root' }, async (t) => {
  const mnt = join(tmp, 'noexec');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700,noexec', 'tmpfs', mnt]);
  mounts.push(mnt);
  await brokenHost(t, { BOOTC_HARNESS_WORK: join(mnt, 'work') }, /^FAIL work root: .*\/noexec\/work is on a noexec mount/, join(mnt, 'work'));
});

t.test('a work root where swtpm cannot create its socket', async (t) => {
  // A unix socket's path holds 108 bytes: swtpm fails to bind there, as it does under a profile that denies the path.
  const deep = join(tmp, 'w'.repeat(Math.max(1, 100 - tmp.length)));
  await brokenHost(t, { BOOTC_HARNESS_WORK: deep }, /^FAIL swtpm socket: swtpm could not start with its socket in .*: swtpm exited before listening: .*; its log: .*socket/i, deep);
});

t.test('pure parts', async (t) => {
  t.ok(compareVersions('10.0.2', '8.2') > 0);
  t.ok(compareVersions('7.2.19', '8.2') < 0);
  t.equal(compareVersions('8.2', '8.2.0'), 0);
  const engines = '^20.19.0 || ^22.12.0 || >=23';
  for (const [v, want] of [['20.20.2', true], ['20.18.0', false], ['21.7.0', false], ['22.11.0', false], ['22.12.0', true], ['24.19.0', true]] as const) t.equal(inEngines(v, engines), want, `Node ${v}`);
  t.equal(findingLine({ check: 'work root', status: 'fail', found: 'x', fix: 'y' }), 'FAIL work root: x; fix: y');
  t.equal(findingLine({ check: 'kvm', status: 'ok', found: 'z' }), 'ok   kvm: z');
  // /proc/self/mountinfo lines (proc(5)): the deepest mount holding the path, with per-mount and superblock options.
  const mi = [
    '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
    '40 22 0:35 / /var/tmp rw,nosuid,nodev,noexec,relatime shared:20 - tmpfs tmpfs rw,size=1024k',
    '41 22 0:36 / /var/tmpx ro,relatime shared:21 - tmpfs tmpfs ro',
  ].join('\n');
  t.same(mountOf(mi, '/var/tmp/bootc-harness'), { point: '/var/tmp', options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime', 'rw', 'size=1024k'] });
  t.equal(mountOf(mi, '/var/tmpx/a')?.point, '/var/tmpx', 'a sibling with the same prefix is another mount');
  t.equal(mountOf(mi, '/srv')?.point, '/');
  const need = spaceNeeded([{ vm: { diskGiB: 6, memoryMiB: 1, cpus: 1, scratchDisks: 0, network: 'isolated' }, source: { fixture: 'trixie' } }]);
  t.equal(need.work, 8 * 2 ** 30, "a run's disk and 2 GiB of overlays and scratch");
});

t.test("a probe killed mid-way is cleaned up by the next: its directory and its swtpm", async (t) => {
  const root = join(tmp, 'stale-work');
  mkdirSync(root, { mode: 0o700 });
  // A dead harness's probe: a pid that cannot be alive, a swtpm still serving from its directory.
  const dead = join(root, '.doctor-swtpm-999999999-x');
  mkdirSync(join(dead, 'tpm'), { recursive: true });
  const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(dead, 'tpm')}`, '--ctrl', `type=unixio,path=${join(dead, 'tpm.sock')}`], { stdio: 'ignore' });
  const gone = new Promise<void>((resolve) => swtpm.on('exit', () => resolve()));
  t.teardown(() => void swtpm.kill('SIGKILL'));
  const r = await cli(['doctor'], { BOOTC_HARNESS_WORK: root, BOOTC_HARNESS_CACHE: cache });
  t.equal(r.code, 0, r.stdout);
  await gone;
  t.pass('the stale swtpm was stopped');
  t.same(readdirSync(root), [], 'and its directory removed');
});
