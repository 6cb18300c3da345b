// Runs outlive their process only on purpose. A run killed without its teardown (SIGKILL,
// a lost CI job) is cleaned up by the next run: its swtpm stopped, its buildah container and
// work directory removed. A run whose owner is alive, and a kept VM, are never touched;
// a reused pid does not count as the owner. No VM boots here: the parts are real
// (swtpm, buildah), the owner is this process or a process that is not it.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readRecord, stateOf, writeRecord, type RunRecord } from '../src/run/registry.js';
import { isAlive, processId, startTimeOf } from '../src/util/process-id.js';
import { knownHostsKey } from '../src/ssh/keys.js';
import { suitesGrep } from '../src/run/suites.js';
import { sshArgv } from '../src/run/kept.js';
import { VM_TESTS } from './helpers/cli.js';

t.test('a process is named by pid, start time and boot: a reused pid is another process', async (t) => {
  t.equal(startTimeOf('123 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21'), 987654, 'the comm field may hold ") " itself');
  const me = processId(process.pid)!;
  t.ok(isAlive(me), 'this process is alive');
  t.notOk(isAlive({ ...me, start: me.start + 1 }), 'the same pid started at another time is not it');
  t.notOk(isAlive({ ...me, bootId: 'another-boot' }), 'nor is the same pid in another boot');
  t.notOk(isAlive(undefined));
});

t.test("a run's state follows from its record and what is alive", async (t) => {
  const owner = { pid: 1, start: 1, bootId: 'b' };
  const qemu = { pid: 2, start: 2, bootId: 'b' };
  const rec: RunRecord = { runId: 'r', source: 's', owner, startedAt: '', runDir: '/x' };
  const keptRec: RunRecord = { ...rec, kept: { at: '', qemu, sshPort: 1, privateKeyPath: '', knownHostsPath: '', contextPath: '', qmpSocket: '', consoleLog: '' } };
  const only = (...alive: object[]) => (p: unknown) => alive.includes(p as object);
  t.equal(stateOf(rec, only(owner), 1e9), 'running', 'owner alive: running');
  t.equal(stateOf(rec, only(), 1e9), 'abandoned', 'owner gone, nothing kept: abandoned');
  t.equal(stateOf(keptRec, only(qemu), 1e9), 'kept', 'owner gone, its VM handed over and alive: kept');
  t.equal(stateOf(keptRec, only(), 1e9), 'abandoned', 'a kept VM that died is cleaned up like any other');
  t.equal(stateOf(undefined, only(), 5_000), 'running', 'no record yet, just created: may be a run between mkdir and its record');
  t.equal(stateOf(undefined, only(), 3_600_000), 'abandoned', 'no record an hour on: abandoned');
});

t.test('the plain ssh to a kept VM pins its host key; a command runs without a shell', async (t) => {
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 2, 1, 2])]);
  t.equal(knownHostsKey(blob), `ssh-ed25519 ${blob.toString('base64')}`, 'known_hosts: the type the blob names, then the blob');
  const k = { sshPort: 2222, privateKeyPath: '/w/id', knownHostsPath: '/w/kh' };
  const argv = sshArgv(k, ['uname', '-r']);
  t.ok(argv.includes('StrictHostKeyChecking=yes') && argv.includes('UserKnownHostsFile=/w/kh'), 'the host key is checked against the run\'s own known_hosts');
  t.same(argv.slice(argv.indexOf('--') + 1), ['uname', '-r'], 'the command follows --');
  t.notOk(sshArgv(k, []).includes('--'), 'no command: an interactive shell');
});

t.test("suites RUN selects by tier, and --grep narrows within the tiers", async (t) => {
  const tiers = new RegExp(suitesGrep({ tiers: [0, 1] }));
  t.ok(tiers.test('boot › boot.kernel @tier0') && tiers.test('image › image.setid-bits @tier1') && !tiers.test('luks › x @tier3'));
  const narrowed = new RegExp(suitesGrep({ tiers: [1], grep: 'setid' }));
  t.ok(narrowed.test('image › image.setid-bits @tier1'), 'a tier-1 test matching the pattern');
  t.notOk(narrowed.test('image › image.file-capabilities @tier1'), 'a tier-1 test not matching it');
  t.notOk(narrowed.test('zfs › setid-like @tier2'), 'a match outside the tiers');
});

t.test('the next run cleans up after a killed one, and only after it', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const work = mkdtempSync('/var/tmp/bh-runs-test-');
  const before = process.env.BOOTC_HARNESS_WORK;
  process.env.BOOTC_HARNESS_WORK = work;
  const { Swtpm } = await import('../src/vm/swtpm.js');
  const { reapAbandoned } = await import('../src/run/reap.js');
  const { findLeftovers } = await import('../src/run/leftovers.js');
  const me = processId(process.pid)!;
  const stamp = Date.now().toString(36);
  const run = (name: string, owner: typeof me, kept?: RunRecord['kept']) => {
    const runId = `${name}-${stamp}`;
    const dir = join(work, runId);
    mkdirSync(dir, { mode: 0o700 });
    writeRecord(dir, { runId, source: 'test', owner, startedAt: new Date().toISOString(), runDir: dir, ...(kept ? { kept } : {}) });
    return { runId, dir };
  };
  const container = (name: string) => execFileSync('buildah', ['from', '--name', name, 'scratch'], { stdio: 'pipe' });
  const containers = () => execFileSync('buildah', ['containers', '--format', '{{.ContainerName}}'], { encoding: 'utf8' }).split('\n');
  // Killed: its owner is "this pid" but started at another time (the pid was reused).
  const killed = run('killed', { ...me, start: me.start - 1 });
  const tpm = await Swtpm.start(join(killed.dir, 'tpm'), join(killed.dir, 'tpm.sock'));
  container(`bh-${killed.runId}-disk`);
  const live = run('live', me);
  container(`bh-${live.runId}-disk`);
  const kept = run('kept', { ...me, start: me.start - 1 }, { at: '', qemu: me, sshPort: 1, privateKeyPath: '', knownHostsPath: '', contextPath: '', qmpSocket: '', consoleLog: '' });
  t.teardown(async () => {
    await tpm.dispose();
    execFileSync('buildah', ['rm', `bh-${live.runId}-disk`], { stdio: 'ignore' });
  });
  t.teardown(() => {
    rmSync(work, { recursive: true, force: true });
    if (before === undefined) delete process.env.BOOTC_HARNESS_WORK;
    else process.env.BOOTC_HARNESS_WORK = before;
  });
  t.ok((await findLeftovers(killed.runId)).some((l) => l.kind === 'process'), 'the killed run left its swtpm running');

  const lines = await reapAbandoned();
  t.equal(lines.length, 1, `one run cleaned up: ${lines.join('; ')}`);
  t.match(lines[0], new RegExp(`^${killed.runId}: its owner is gone`));
  t.same(await findLeftovers(killed.runId), [], 'its swtpm, container and work directory are gone');
  t.ok(existsSync(live.dir) && containers().includes(`bh-${live.runId}-disk`), 'a run whose owner is alive is untouched');
  t.ok(existsSync(kept.dir) && readRecord(kept.dir)?.kept, 'a kept run is untouched');
});

t.test("parallel lanes: another lane's live run is not left behind; once its owner is gone, it is", { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const base = mkdtempSync('/var/tmp/bh-lanes-test-');
  const [one, two] = ['1', '2'].map((n) => join(base, '.lanes', n));
  const before = process.env.BOOTC_HARNESS_WORK;
  const { findLeftovers } = await import('../src/run/leftovers.js');
  const me = processId(process.pid)!;
  const runId = `other-lane-${Date.now().toString(36)}`;
  mkdirSync(join(two!, runId), { recursive: true, mode: 0o700 });
  mkdirSync(one!, { recursive: true, mode: 0o700 });
  const owned = (owner: typeof me) => writeRecord(join(two!, runId), { runId, source: 'test', owner, startedAt: new Date().toISOString(), runDir: '/x' });
  owned(me);
  execFileSync('buildah', ['from', '--name', `bh-${runId}-disk`, 'scratch'], { stdio: 'pipe' });
  t.teardown(() => {
    execFileSync('buildah', ['rm', `bh-${runId}-disk`], { stdio: 'ignore' });
    rmSync(base, { recursive: true, force: true });
    if (before === undefined) delete process.env.BOOTC_HARNESS_WORK;
    else process.env.BOOTC_HARNESS_WORK = before;
  });
  process.env.BOOTC_HARNESS_WORK = one!;
  t.same((await findLeftovers()).filter((l) => l.what.includes(runId)), [], 'lane 1 does not count lane 2\'s running run');
  owned({ ...me, start: me.start - 1 });
  t.same((await findLeftovers()).filter((l) => l.what.includes(runId)).map((l) => l.kind), ['container'], 'its owner gone, its container is a leftover for any lane');
});
