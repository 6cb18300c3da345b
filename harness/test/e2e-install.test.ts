// End to end, for real: the default fixture is built, packaged, installed, booted
// under QEMU and asserted; at the same time a plain rootfs directory goes the same
// way through the release gate, so the two runs also prove they do not collide (ports,
// dirs, names, disks).
//
// Boots: two at the same time, on purpose (not colliding is the question), and a third. The default
// run is the main job as users run it (`test-install`), with --keep: its VM then answers
// every later question about the same image booted the same way, in seconds each:
// `ssh RUN`, `suites RUN --tier 1`, the suites under a profile that expects what the
// plain fixture lacks (a SUID bit, ZFS, tailscaled, a composefs root: each failure must
// name it; under test-install its pre checks would stop it before any boot), and
// `gate --run` of the run's report (tiers 0, 1 passed; tier 3 not tested). `stop RUN`
// then leaves nothing. The directory run is `gate SOURCE`: the gate's own run, on a terminal
// (a pty, as a person at a terminal runs it: the live view), the other piped; the same
// directory once more boots from the image and disk caches (a third boot). The matrix
// row of the same fixture (e2e-tier4) asks another question (tier 4 not applicable, the
// kernel tier row) through another command, so it keeps its own boot. The kept VM also shows the
// guest is fenced: listeners on the host's loopback and address hear nothing from it (seconds).
import t from 'tap';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import { readRecord } from '../src/run/registry.js';
import { isAlive } from '../src/util/process-id.js';
import { workDir } from '../src/util/paths.js';
import { BIN, cli, inPty, REPO, VM_TESTS, type CliResult } from './helpers/cli.js';
import type { Summary } from '../src/report/summary.js';

// A fixture source is built (or found cached) in a stage of its own, not charged to the image budget.
const STAGES = ['fixture', 'image', 'pre', 'disk', 'vm', 'session', 'suites', 'shutdown'];

function runDirOf(stdout: string): string {
  const m = /^report: (.+)$/m.exec(stdout);
  if (!m) throw new Error(`no report line in: ${stdout}`);
  return m[1]!;
}

function summaryOf(r: CliResult): Summary {
  return JSON.parse(readFileSync(join(runDirOf(r.stdout), 'summary.json'), 'utf8')) as Summary;
}

t.test('two runs at once: the default fixture and a rootfs directory', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const built = await cli(['fixtures', 'build', 'trixie']);
  t.equal(built.code, 0, built.stderr);
  const rootfs = built.stdout.trim().split(' ')[0]!;

  const [def, dir] = await Promise.all([cli(['test-install', '--keep']), inPty([process.execPath, BIN, 'gate', rootfs, '--require', '0,1'])]);
  const runId = runDirOf(def.stdout).split('/').pop()!;
  // Whatever fails below, the kept VM does not outlive this file.
  t.teardown(async () => void (await cli(['stop', runId])));

  t.test('default fixture passes tier0 and tier1', async (t) => {
    t.equal(def.code, 0, `exit 0\n${def.stderr.slice(-3000)}`);
    const runDir = runDirOf(def.stdout);
    const summary = summaryOf(def);
    t.equal(summary.verdict, 'passed');
    t.same(summary.stages.map((s) => s.name), [...STAGES.filter((s) => s !== 'shutdown'), 'keep'], 'every stage is listed in order; --keep hands the VM over instead of shutting it down');
    for (const s of summary.stages) t.ok(Number.isInteger(s.ms) && s.ms >= 0, `stage ${s.name} has a duration (${s.ms} ms)`);
    // Piped to a file (as here), every stage's start and end is a timestamped line, the end with its duration.
    for (const s of summary.stages) {
      t.match(def.stderr, new RegExp(`^\\d\\d:\\d\\d:\\d\\d bootc-harness: ${s.name}: started$`, 'm'), `${s.name}: a line when it starts`);
      t.match(def.stderr, new RegExp(`^\\d\\d:\\d\\d:\\d\\d bootc-harness: ${s.name}: done in \\d+\\.\\d s${s.cached ? ' \\(cached\\)' : ''}$`, 'm'), `${s.name}: a line when it ends, with its duration`);
    }
    t.match(summary.kernel, { release: /^6\.12\./, tier: 'pre-6.15' });
    t.ok(['kvm', 'tcg'].includes(summary.accel) && summary.accelReason.length > 0, `accelerator chosen with a reason: ${summary.accel}`);
    t.match(summary.image, { ref: /^localhost\/bootc-harness\/trixie:[0-9a-f]{16}$/, id: /^[0-9a-f]{64}$/ });
    const byId = new Map(summary.tests.map((x) => [x.id, x]));
    for (const id of ['boot.system-running', 'boot.no-failed-units', 'boot.console-clean', 'image.setid-bits', 'image.file-capabilities', 'image.profile-setid', 'image.profile-capabilities']) {
      t.equal(byId.get(id)?.status, 'passed', `${id} passed`);
    }
    for (const f of ['index.html', 'junit.xml', 'console.log', 'summary.json', 'journal.txt']) t.ok(existsSync(join(runDir, f)), `report has ${f}`);
    t.match(readFileSync(join(runDir, 'console.log'), 'utf8'), /login:/, 'the console log captured the boot to a login prompt');
    t.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /boot\.system-running/);
  });

  t.test('a Debian rootfs directory passes the gate on tiers 0 and 1 under the generic profile', async (t) => {
    t.equal(dir.code, 0, `exit 0\n${dir.stdout}\n${dir.stderr.slice(-3000)}`);
    t.match(dir.stdout, /^gate: PASSED: required tiers 0, 1 of /m);
    t.match(dir.stdout, /^ {2}tier0 +passed +[1-9]\d* +0 /m, 'tier 0 ran and passed');
    t.match(dir.stdout, /^ {2}tier1 +passed +[1-9]\d* +0 /m, 'tier 1 ran and passed');
    const report = /^ {2}report {2}(\S+)$/m.exec(dir.stdout)?.[1];
    t.ok(report, 'the gate names the report');
    const summary = JSON.parse(readFileSync(join(report!, 'summary.json'), 'utf8')) as Summary;
    t.equal(summary.source, rootfs);
    t.equal(summary.verdict, 'passed');
    // The pre checks run on every run (before install); of the suites, only the selected tiers ran.
    const suites = summary.tests.filter((x) => x.tier !== 'pre');
    t.ok(suites.length > 0 && suites.every((x) => x.tier === 'tier0' || x.tier === 'tier1'), 'only the selected tiers ran');
    t.same(summary.tests.filter((x) => x.tier === 'pre').map((x) => x.status), ['skipped', 'skipped', 'skipped', 'skipped', 'skipped'], 'the generic profile asks the pre checks nothing');
    t.match(summary.image.ref, /^localhost\/bootc-harness\/dir-rootfs-[0-9a-f]{8}:[0-9a-f]{16}$/, 'named for the directory, tagged with its content key');
    t.equal(summary.profile, 'generic', 'nothing names a profile for a directory called rootfs');
    t.match(summary.profileReason ?? '', /no profile is named "rootfs"/);
  });

  t.test('on a terminal, the gate run had a live view: a status line redrawn in place, each stage ending on a line of its own', async (t) => {
    const summary = JSON.parse(readFileSync(join(/^ {2}report {2}(\S+)$/m.exec(dir.stdout)![1]!, 'summary.json'), 'utf8')) as Summary;
    for (const s of summary.stages) {
      t.match(dir.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d ✔ ${s.name} \\d+\\.\\d s${s.cached ? ' \\(cached\\)' : ''}$`, 'm'), `${s.name}: its end, with its duration`);
    }
    t.match(dir.raw, /[⠀-⣿] session \d+ s {2}kernel \S+ at \d+\.\d s/, "the boot's milestones in the status line as the guest reached them");
    t.match(dir.raw, /\x1b\[2K/, 'redrawn by erasing, not by printing a line each');
    t.notMatch(dir.stdout, /^\d\d:\d\d:\d\d (bootc-harness: )?session: kernel /m, 'milestones are not printed as lines on a terminal');
  });

  t.test('the runs did not collide', async (t) => {
    const a = runDirOf(def.stdout);
    const b = /^ {2}report {2}(\S+)$/m.exec(dir.stdout)?.[1] ?? '(no report line)';
    t.not(a, b, 'separate run directories');
    const portOf = (r: CliResult) => /ssh on 127\.0\.0\.1:(\d+)/.exec(r.stderr)?.[1];
    t.ok(portOf(def) && portOf(dir) && portOf(def) !== portOf(dir), `separate ports ${portOf(def)} and ${portOf(dir)}`);
    t.ok([a, b].map((p) => p.split('/').pop()).includes(readlinkSync(join(REPO, 'reports', 'latest'))), 'reports/latest points at one of them');
  });

  t.test('the kept VM: listed, reachable by ssh RUN, the suites again in seconds', async (t) => {
    t.match(def.stdout, new RegExp(`^kept: the VM is up: bootc-harness ssh ${runId}`, 'm'), 'the run says how to reach its VM');
    t.match(def.stdout, /^ {2}or: ssh -i \S+id_ed25519 -p \d+ .*UserKnownHostsFile=\S+known_hosts -o StrictHostKeyChecking=yes .*root@127\.0\.0\.1$/m, 'and the plain ssh command');
    const list = await cli(['list']);
    t.match(list.stdout, new RegExp(`^${runId} +kept +127\\.0\\.0\\.1:\\d+ +fixture:trixie$`, 'm'), 'list shows it kept');
    const uname = await cli(['ssh', runId, '--', 'uname', '-r']);
    t.equal(uname.code, 0, uname.stderr);
    t.equal(uname.stdout.trim(), summaryOf(def).kernel.release, 'ssh RUN -- uname -r: the kernel the run booted');
    const status = await cli(['ssh', runId, '--', 'exit', '7']);
    t.equal(status.code, 7, "the guest command's exit status is ssh's");

    const again = await cli(['suites', runId, '--tier', '1']);
    t.equal(again.code, 0, `suites RUN --tier 1: exit 0\n${again.stdout.slice(-2000)}`);
    t.match(again.stdout, /^PASSED: suites against \S+: [1-9]\d* passed, 0 failed, \d+ skipped \(tier1 passed\)$/m);
    const dir = /^report: (.+)$/m.exec(again.stdout)![1]!;
    const tests = JSON.parse(readFileSync(join(dir, 'tests.json'), 'utf8')) as Summary['tests'];
    t.ok(tests.length > 0 && tests.every((x) => x.tier === 'tier1'), 'only tier 1 ran, into a report of its own');
  });

  // The kept VM's network is the default, isolated one. Costs three ssh round trips (seconds), no boot.
  t.test("the kept guest is fenced: a listener on the host's 127.0.0.1 and on its own address hears nothing from it", async (t) => {
    const heard: string[] = [];
    const listeners = await Promise.all(
      ['127.0.0.1', ...Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address).slice(0, 1)].map(
        (host) =>
          new Promise<{ host: string; port: number; server: Server }>((resolve) => {
            const server = createServer((s) => (heard.push(`${host}: ${s.remoteAddress}`), s.destroy()));
            server.listen(0, host, () => resolve({ host, port: (server.address() as AddressInfo).port, server }));
          }),
      ),
    );
    t.teardown(() => listeners.forEach((l) => l.server.close()));
    // One argument: ssh hands the guest's shell one command line.
    const dial = (target: string) => cli(['ssh', runId, '--', `timeout 10 bash -c 'exec 3<>/dev/tcp/${target} && echo REACHED || echo BLOCKED'`]);
    // The probe is real: inside the guest it reaches the guest's own sshd.
    t.match((await dial('127.0.0.1/22')).stdout, /REACHED/, "the probe reaches the guest's own sshd");
    // slirp maps 10.0.2.2 to the host's loopback unless restrict=on.
    const lo = listeners[0]!;
    t.match((await dial(`10.0.2.2/${lo.port}`)).stdout, /BLOCKED/, "10.0.2.2 (the host's loopback under slirp) is not reached");
    for (const l of listeners.slice(1)) t.match((await dial(`${l.host}/${l.port}`)).stdout, /BLOCKED/, `the host's own address ${l.host} is not reached`);
    t.same(heard, [], 'no host listener saw a connection');
  });

  // The same guest judged against a profile that expects what it lacks: each failure names the missing feature.
  t.test('a profile expecting a SUID bit, ZFS, tailscaled and a composefs root the plain fixture lacks fails tiers 1, 2 and 4, naming each', async (t) => {
    const r = await cli(['suites', runId, '--profile', 'plain-lacks-expected', '--tier', '1,2,4']);
    t.equal(r.code, 1, `exit 1\n${r.stdout.slice(-3000)}`);
    t.match(r.stdout, /^FAILED: suites against .*\(tier1 failed, tier2 failed, tier4 failed\)$/m);
    const dir = /^report: (.+)$/m.exec(r.stdout)![1]!;
    const tests = JSON.parse(readFileSync(join(dir, 'tests.json'), 'utf8')) as Summary['tests'];
    const failed = new Map(tests.filter((x) => x.status === 'failed').map((x) => [x.id, x.error ?? '']));
    t.match(failed.get('image.profile-setid') ?? '', /\/usr\/bin\/env/, 'names the file that should be SUID and is not');
    t.notMatch(failed.get('image.profile-setid') ?? '', /\/usr\/bin\/sudo/, 'and not the one that is');
    t.match(failed.get('zfs.module-matches-kernel') ?? '', /ZFS: no zfs kernel module for the booted kernel 6\.12/, 'names the missing zfs module');
    t.match(failed.get('tailscale.daemon') ?? '', /tailscaled\.service is not installed/, 'names tailscaled');
    t.match(failed.get('tailscale.cli') ?? '', /tailscale/, 'names the tailscale command');
    t.match(failed.get('services.active') ?? '', /tailscaled\.service is not installed/, 'the listed service is named');
    t.notOk(failed.has('services.enabled'), 'ssh.service is enabled: that check passes');
    t.match(failed.get('composefs.root-mount') ?? '', /\/ is not composefs: it is ext4 from \/dev\/vda2 \(rw/, 'names what the root is instead');
    t.match(failed.get('composefs.root-readonly') ?? '', /\/ must not be writable/);
    t.match(failed.get('composefs.digest') ?? '', /no composefs=<digest>/);
  });

  // The release question asked of the run's report: tier 3 (no LUKS on this image) was not tested.
  t.test('gate --run: tiers 0 and 1 passed (exit 0); with tier 3 required, tier 3 not tested (exit 1), and why', async (t) => {
    const pass = await cli(['gate', '--run', runId, '--require', '0,1']);
    t.equal(pass.code, 0, pass.stdout);
    t.match(pass.stdout, /^gate: PASSED: required tiers 0, 1 of fixture:trixie/m);
    const r = await cli(['gate', '--run', runId, '--require', '0,1,3']);
    t.equal(r.code, 1, `exit 1\n${r.stdout}\n${r.stderr}`);
    t.match(r.stdout, /^gate: FAILED: required tiers 0, 1, 3 of fixture:trixie/m);
    t.match(r.stdout, /^ {2}tier0 +passed +[1-9]\d* +0 /m, 'tier 0 ran and passed');
    t.match(r.stdout, /^ {2}tier1 +passed +[1-9]\d* +0 /m, 'tier 1 ran and passed');
    t.match(r.stdout, /^ {2}tier3 +not-tested +0 +0 +\d+/m, 'tier 3: nothing ran');
    t.match(r.stdout, /luks\.root-on-crypt: skipped \(the profile does not expect a LUKS2 root unlocked by TPM2\)/, 'and why');
    t.match(r.stdout, /^ {2}kernel {2}6\.12\./m);
    t.match(r.stdout, /^ {2}image {3}localhost\/bootc-harness\/trixie:\S+ sha256:[0-9a-f]{64}/m, 'the image and its digest');
  });

  t.test('the same directory again: its image and its disk come from the caches', async (t) => {
    // Keyed by the tree's manifest and every entry's identity (image/dir-key.ts): unchanged, it
    // is not packaged again, and its disk (keyed by the image) is not installed again.
    const again = await cli(['test-install', rootfs, '--tier', '0']);
    t.equal(again.code, 0, `exit 0\n${again.stderr.slice(-2000)}`);
    const s = summaryOf(again);
    const first = JSON.parse(readFileSync(join(/^ {2}report {2}(\S+)$/m.exec(dir.stdout)![1]!, 'summary.json'), 'utf8')) as Summary;
    t.equal(s.stages.find((x) => x.name === 'image')?.cached, true, 'image: cached');
    t.equal(s.stages.find((x) => x.name === 'disk')?.cached, true, 'disk: cached');
    t.equal(s.image.id, first.image.id, "the gate run's image");
    t.equal(s.diskKey, first.diskKey, "and the gate run's disk");
  });

  t.test('stop RUN powers it off and leaves nothing', async (t) => {
    const kept = readRecord(join(workDir(), runId))?.kept;
    t.ok(kept?.qemu && kept.swtpm, 'run.json names the kept QEMU and swtpm');
    const stop = await cli(['stop', runId]);
    // The moment stop returns: QEMU and swtpm reaped (a zombie would still hold its pid), not merely signalled.
    t.same({ qemu: isAlive(kept?.qemu), swtpm: isAlive(kept?.swtpm) }, { qemu: false, swtpm: false }, 'no process of the run is left when stop returns');
    t.equal(stop.code, 0, stop.stderr);
    t.match(stop.stdout, new RegExp(`^${runId}: (powered off|killed);.*; no process of it is left$`, 'm'));
    t.notMatch((await cli(['list'])).stdout, runId, 'no longer listed');
    t.same(await findLeftovers(runId), [], 'no qemu, swtpm, container, mount or work directory of the kept run');
  });

  // A subtest of its own: tap runs subtests in order, after the parent's body, so this comes after `stop`.
  t.test('nothing left behind', async (t) => t.same(await findLeftovers(), [], 'no qemu, swtpm, container, mount or work directory of either run'));
});
