// `stop RUN` returns only once every process of the run is gone (QEMU and swtpm reaped, not
// merely signalled), and says which it had to stop. Ten stop cycles of real QEMU + swtpm
// processes set up as a kept run leaves them (QEMU in its own group, swtpm released, run.json
// naming both), QEMU started paused with no guest disk: the processes, sockets and cleanup are
// those of a kept VM, without ten boots (~1 min of TCG each). The guest that answers the ACPI
// button is e2e-install's kept VM (`stop RUN powers it off and leaves nothing`).
// Cost: ~1-2 s a cycle (QEMU start, a 300 ms power-off budget, swtpm's exit).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { socketAppears } from '../src/vm/daemon.js';
import { Qmp } from '../src/vm/qmp.js';
import { listensOn } from '../src/vm/unix-listen.js';
import { Swtpm } from '../src/vm/swtpm.js';
import { isAlive, processId } from '../src/util/process-id.js';
import { withDeadline } from '../src/util/deadline.js';
import { writeRecord, type RunRecord } from '../src/run/registry.js';
import { VM_TESTS } from './helpers/cli.js';

const haveTools = ['qemu-system-x86_64', 'swtpm'].every((x) => spawnSync('sh', ['-c', `command -v ${x}`]).status === 0);
const skip = (!VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1') || (!haveTools && 'no qemu-system-x86_64 or swtpm (just setup)');

t.test('stop of a kept run: ten times, no process, socket or directory of it the moment it returns', { skip }, async (t) => {
  const work = mkdtempSync('/var/tmp/bh-stop-test-');
  const before = process.env.BOOTC_HARNESS_WORK;
  process.env.BOOTC_HARNESS_WORK = work;
  t.teardown(() => {
    rmSync(work, { recursive: true, force: true });
    if (before === undefined) delete process.env.BOOTC_HARNESS_WORK;
    else process.env.BOOTC_HARNESS_WORK = before;
  });
  const { stopKept, stopLine } = await import('../src/run/kept.js');
  const { findLeftovers } = await import('../src/run/leftovers.js');
  const { listRuns } = await import('../src/run/registry.js');
  for (let i = 1; i <= 10; i++) {
    const runId = `stoptest-${process.pid}-${i}`;
    const dir = join(work, runId);
    mkdirSync(join(dir, 'tpm'), { recursive: true, mode: 0o700 });
    const tpm = await Swtpm.start(join(dir, 'tpm'), join(dir, 'tpm.sock'));
    const qmpSocket = join(dir, 'qmp.sock');
    // Paused (-S), no disk: QEMU with a monitor and a TPM, as a kept VM has them, and no guest to answer the button.
    const qemu = spawn('qemu-system-x86_64', ['-name', `bootc-harness-${runId}`, '-machine', 'q35,accel=tcg', '-m', '64', '-nodefaults', '-display', 'none', '-S',
      '-qmp', `unix:${qmpSocket},server=on,wait=off`, '-chardev', `socket,id=chrtpm,path=${tpm.socket}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0'], { detached: true, stdio: 'ignore' });
    // A cycle that fails before stop must not leave its processes behind.
    const ours = [qemu.pid, tpm.pid].flatMap((pid) => (pid ? [processId(pid)] : [])).filter((p) => p !== undefined);
    t.teardown(() => {
      // By identity (pid and start time): a pid reused since is not ours.
      for (const p of ours) if (isAlive(p)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    });
    await withDeadline(socketAppears(qmpSocket).then(() => listensOn(qmpSocket, 15_000)), 15_000, 'QEMU monitor socket');
    // The socket is there before the machine is built; QEMU answers its monitor only once it
    // is, its TPM backend connected to swtpm (a kept VM's QEMU has long been so). Killed
    // before that, swtpm never had a control connection to lose and --terminate cannot fire.
    const qmp = await withDeadline(Qmp.connect(qmpSocket), 15_000, 'QEMU monitor');
    t.match(await qmp.execute('query-tpm'), [{ id: 'tpm0' }], `cycle ${i}: QEMU holds the TPM`);
    qmp.close();
    // Handed over as keepVm does: nothing of ours holds them.
    qemu.unref();
    tpm.release();
    const kept = { qemu: processId(qemu.pid!)!, swtpm: processId(tpm.pid!)! };
    const record: RunRecord = {
      runId, source: 'stop-test', owner: { ...processId(process.pid)!, start: 0 }, startedAt: new Date().toISOString(), runDir: dir,
      kept: { at: '', ...kept, sshPort: 1, privateKeyPath: '', knownHostsPath: '', contextPath: '', qmpSocket, consoleLog: join(dir, 'console.log') },
    };
    writeRecord(dir, record);
    const entry = listRuns().find((e) => e.runId === runId)!;
    t.equal(entry.state, 'kept', `cycle ${i}: a kept run (its owner gone, its QEMU up)`);
    const r = await stopKept(entry, 300);
    // The moment stop returns: both reaped (a zombie would still hold its pid), nothing of the run found.
    const left = { qemu: isAlive(kept.qemu), swtpm: isAlive(kept.swtpm), leftovers: await findLeftovers(runId), dir: existsSync(dir), pgrep: spawnSync('pgrep', ['-f', runId]).stdout.toString().trim() };
    t.same(left, { qemu: false, swtpm: false, leftovers: [], dir: false, pgrep: '' }, `cycle ${i}: ${stopLine(runId, r)}`);
    if (i === 1) {
      t.equal(r.how, 'killed', 'no guest answered the power button');
      t.match(stopLine(runId, r), /had to stop qemu-system-x86_64 \(pid \d+\) \(SIGTERM\)/, 'stop names the process it had to stop');
      t.match(r.steps, [/^stopped qemu-system-x86_64/, /^swtpm \(pid \d+\) exited$/], 'swtpm went by itself once QEMU let go of it (--terminate)');
    }
  }
});
