// What the operator does with a VM a run kept (--keep): hand it over, step into it, stop it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Machine } from '../machine.js';
import { processId } from '../util/process-id.js';
import type { Passt } from '../vm/passt.js';
import type { Swtpm } from '../vm/swtpm.js';
import type { Vm } from '../vm/vm.js';
import { Qmp } from '../vm/qmp.js';
import { withDeadline } from '../util/deadline.js';
import { runInherit } from '../util/exec.js';
import { requireTools } from '../util/tools.js';
import { cleanupRun, endingStep, stopProcess } from './reap.js';
import type { OpenRun } from './run-dir.js';
import type { StageClock } from './stages.js';
import { findKeptRun, findRun, listRuns, type RunEntry } from './registry.js';
import { isAlive } from '../util/process-id.js';

/** Pure: the OpenSSH argv that reaches a kept VM with its key and pinned host key; `command` runs there instead of a shell. */
export function sshArgv(k: { sshPort: number; privateKeyPath: string; knownHostsPath: string }, command: readonly string[]): string[] {
  return [
    'ssh', '-i', k.privateKeyPath, '-p', String(k.sshPort),
    '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${k.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR',
    ...(command.length ? ['-T'] : []),
    'root@127.0.0.1',
    ...(command.length ? ['--', ...command] : []),
  ];
}

/** `ssh RUN [-- CMD]`: the guest's exit status is ours. */
export async function sshToKept(name: string, command: readonly string[], signal: AbortSignal): Promise<number> {
  requireTools(['ssh']);
  const { record } = findKeptRun(name);
  return runInherit(sshArgv(record.kept, command), { stage: 'session', signal, stdin: 'inherit' });
}

/**
 * Powers a kept VM off (ACPI through its monitor; the guest's disk is a throwaway overlay,
 * so a guest that ignores the button is killed after `budgetMs`), then removes everything
 * of its run. Returns only once every process of the run is gone (QEMU, swtpm, virtiofsd:
 * each waited for until reaped, stopped if it does not go by itself), saying how each ended.
 * Works whether or not the run's own process is still around.
 */
export async function stopKept(entry: RunEntry, budgetMs = 20_000): Promise<{ how: 'powered off' | 'killed' | 'already gone'; steps: string[] }> {
  const kept = entry.record?.kept;
  let how: 'powered off' | 'killed' | 'already gone' = 'already gone';
  if (kept && isAlive(kept.qemu)) {
    how = 'killed';
    const qmp = await Qmp.connect(kept.qmpSocket).catch(() => undefined);
    if (qmp) {
      // QEMU closes its monitor as it exits: that close is the event to wait for.
      const closed = new Promise<void>((resolve) => qmp.once('close', resolve));
      try {
        await qmp.execute('system_powerdown');
        await withDeadline(closed, budgetMs, 'guest power-off');
        how = 'powered off';
      } catch {
        /* stopped below */
      } finally {
        qmp.close();
      }
    }
  }
  const steps: string[] = [];
  if (kept) {
    // The monitor closes before QEMU has exited; swtpm (--terminate) exits once QEMU lets go
    // of it. Each is waited for until gone, and stopped if it does not go by itself.
    const own = [['qemu-system-x86_64', kept.qemu, how === 'powered off' ? 10_000 : 0], ['swtpm', kept.swtpm, 5_000]] as const;
    for (const [name, p, ownExitMs] of own) if (p) steps.push(endingStep(await stopProcess(p, { ownExitMs }), name, p.pid));
  }
  return { how, steps: [...steps, ...(await cleanupRun(entry))] };
}

/** Pure: `stop`'s line for one run: how the VM went, the steps, and any process it had to kill. */
export function stopLine(runId: string, r: { how: string; steps: readonly string[] }): string {
  const by = (verb: string) => r.steps.filter((s) => s.startsWith(`${verb} `)).map((s) => s.slice(verb.length + 1).split(/:| with /)[0]);
  const killed = by('killed');
  const stopped = by('stopped');
  return `${runId}: ${r.how}; ${r.steps.length} cleanup steps${stopped.length ? `; had to stop ${stopped.join(', ')} (SIGTERM)` : ''}${killed.length ? `; had to kill ${killed.join(', ')} (SIGKILL)` : ''}; no process of it is left`;
}

/** `stop RUN` (or every kept run): one line each. A kept run whose VM has died is stopped too (cleaned up). */
export async function stopRuns(name: string | 'all'): Promise<string[]> {
  const targets = name === 'all' ? listRuns().filter((e) => e.state === 'kept' || (e.state === 'abandoned' && e.record?.kept)) : [findRun(name, ['kept', 'abandoned'])];
  const out: string[] = [];
  for (const e of targets) out.push(stopLine(e.runId, await stopKept(e)));
  return out;
}

/** Pure: the plain OpenSSH command that reaches a kept VM, host key pinned. */
export function plainSsh(k: { sshPort: number; privateKeyPath: string; knownHostsPath: string }): string {
  return sshArgv(k, []).join(' ');
}

/**
 * --keep: the VM is handed over instead of powered off. Its host key is written as a
 * known_hosts line for plain ssh, QEMU and swtpm are let go (they outlive this process),
 * and run.json records where the VM is. Returns the summary's `kept`.
 */
export async function keepVm(run: OpenRun, clock: StageClock, b: { vm: Vm; tpm: Swtpm; net?: Passt; machine: Machine; port: number }, paths: { privateKeyPath: string; contextPath: string }): Promise<{ runId: string; ssh: string }> {
  const knownHostsPath = join(run.work, 'known_hosts');
  writeFileSync(knownHostsPath, `[127.0.0.1]:${b.port} ${b.machine.hostKeyLine}\n`, { mode: 0o600 });
  b.machine.close();
  await clock.run('keep', 15_000, async () => {
    await b.vm.handOver(run.consoleLog);
    b.tpm.release();
    // passt ends by itself when the kept QEMU does (-1).
    b.net?.release();
  });
  const swtpm = b.tpm.pid !== undefined ? processId(b.tpm.pid) : undefined;
  const kept = {
    at: new Date().toISOString(),
    qemu: processId(b.vm.pid!)!,
    ...(swtpm ? { swtpm } : {}),
    sshPort: b.port,
    privateKeyPath: paths.privateKeyPath,
    knownHostsPath,
    contextPath: paths.contextPath,
    qmpSocket: join(run.work, 'qmp.sock'),
    consoleLog: run.consoleLog,
  };
  run.markKept(kept);
  return { runId: run.runId, ssh: plainSsh(kept) };
}
