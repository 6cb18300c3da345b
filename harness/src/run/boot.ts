// One boot: a throwaway overlay on the installed disk (so a retry starts from the disk as
// installed), a TPM, QEMU; then the wait for SSH, raced against QEMU exiting, a fatal
// console line, a login prompt with no sshd, and a guest that falls silent. An
// infrastructure failure (a silent guest, QEMU dying) is retried once; an assertion never.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import getPort from 'get-port';
import { AssertionFailure, InfraError } from '../errors.js';
import type { CachedInstall } from '../install/disk-cache.js';
import { Machine } from '../machine.js';
import type { Profile } from '../profile/profile.js';
import { SshRefusals } from '../ssh/refusals.js';
import { clockRanAway, guestFallsSilent, sshSilentAfterLogin, SILENCE_MS, SSH_GRACE_AFTER_LOGIN_MS } from '../ssh/boot-watch.js';
import { rejectOnAbort, withDeadline } from '../util/deadline.js';
import { milestoneOf } from '../vm/boot-milestones.js';
import { hostHasVsock, type Accel } from '../vm/qemu-args.js';
import { describeHit, type ConsoleHit } from '../vm/console-patterns.js';
import { createOverlay } from '../vm/overlay.js';
import { Passt } from '../vm/passt.js';
import { Swtpm } from '../vm/swtpm.js';
import { Vm } from '../vm/vm.js';
import { firmware } from './disk-stage.js';
import type { Luks } from './plan.js';
import { retryInfraOnce, type Retry } from './retry.js';
import type { OpenRun } from './run-dir.js';
import type { StageClock } from './stages.js';
import { slowestUnits, type BootTimeline } from '../report/boot-profile.js';

export interface BootInput {
  run: OpenRun;
  clock: StageClock;
  disk: CachedInstall;
  accel: Accel;
  /** vCPUs (vm/vcpus.ts: the profile's, or fewer under TCG when VMs share the host). */
  cpus: number;
  profile: Profile;
  luks: Luks;
  /** A TPM that has never seen this disk, so a sealed key cannot be unsealed. */
  freshTpm: boolean;
  scratchDisks: { path: string; format: 'raw'; serial: string }[];
  privateKeyPath: string;
  signal: AbortSignal;
  log: (line: string) => void;
  onRetry: (r: Retry) => void;
  /** Each VM as it starts, for the console tail of a failure. */
  onVm: (vm: Vm) => void;
}

export interface Booted {
  /** The VM has a vsock device (the host has /dev/vhost-vsock). */
  vsock: boolean;
  timeline: BootTimeline;
  vm: Vm;
  tpm: Swtpm;
  /** passt, when the profile lets the guest connect out. */
  net?: Passt;
  machine: Machine;
  port: number;
  /** `systemd-analyze critical-chain` of this boot, asked for as soon as it was ready (see criticalChain). */
  criticalChain: Promise<string | undefined>;
}

export async function bootGuest(i: BootInput): Promise<Booted> {
  const { run, clock, profile } = i;
  let vm: Vm | undefined;
  let tpm: Swtpm | undefined;
  let passt: Passt | undefined;
  const vsock = hostHasVsock(existsSync);
  const boot = async (attempt: number): Promise<Booted> => {
    const port = await getPort({ host: '127.0.0.1' });
    const vmStartedAt = Date.now();
    const started = await clock.run('vm', 60_000, async (ctx) => {
      const overlay = await createOverlay(i.disk, join(run.work, `boot-${attempt}.qcow2`), ctx.signal);
      const thisTpm = await Swtpm.start(join(run.work, i.freshTpm ? 'tpm-fresh' : 'tpm'), join(run.work, 'tpm.sock'));
      tpm = thisTpm;
      if (i.freshTpm) i.log('vm: booting with a fresh TPM (not the one the installer enrolled)');
      run.deferUnlessKept('stop swtpm', () => thisTpm.dispose());
      // Isolated unless the profile opts into outbound NAT (qemu-args.ts: GuestNetwork).
      const net = profile.vm.network === 'outbound' ? await Passt.start(run.runId, ctx.signal) : undefined;
      passt = net;
      if (net) run.deferUnlessKept('stop passt', () => net.dispose());
      const fw = firmware();
      const v = await Vm.start({
        dir: run.work,
        accel: i.accel,
        cpus: i.cpus,
        memoryMiB: profile.vm.memoryMiB,
        ovmfCode: fw.code,
        ovmfVarsTemplate: fw.varsTemplate,
        disk: overlay,
        extraDisks: i.scratchDisks,
        ...(i.disk.qemuExtraArgs ? { extraArgs: i.disk.qemuExtraArgs } : {}),
        tpmSocket: thisTpm.socket,
        sshPort: port,
        network: net ? { mode: 'outbound', passtSocket: net.socket } : { mode: 'isolated' },
        // The SSH port is unique among this host's VMs while they run, and above the reserved CIDs 0-2.
        ...(vsock ? { vsockCid: port } : {}),
        consoleLog: run.consoleLog,
        warnOnly: new Set(profile.console.warnOnly),
      });
      run.deferUnlessKept('stop qemu', () => v.dispose());
      return { vm: v, tpm: thisTpm, ...(net ? { net } : {}) };
    });
    vm = started.vm;
    i.onVm(started.vm);
    const theVm = started.vm;
    // Where the boot has got to, as it gets there: what an operator watching a slow boot wants.
    let last = '';
    theVm.console.on('line', (line: string) => {
      const m = milestoneOf(line);
      if (!m || m.text === last) return;
      last = m.text;
      clock.progress(`${m.text} at ${((Date.now() - vmStartedAt) / 1000).toFixed(1)} s`);
    });
    i.log(`session: waiting for ssh on 127.0.0.1:${port} (budget ${profile.budgets.bootMs / 1000} s)`);
    // Background watches of the boot end with the session stage, however it ends.
    const bootWatch = new AbortController();
    // What sshd refused while this boot was waited for: a quiet guest that refuses is the image's, not silent.
    const refusals = new SshRefusals();
    const race = () =>
      Promise.race([
        theVm.exited.then((e) => Promise.reject(theVm.exitError(e))),
        theVm.console.fatal().catch((hit: ConsoleHit) =>
          Promise.reject(new AssertionFailure('session', `${whyFatal(hit, i.luks)}\n${theVm.console.context(hit)}`, { consoleTail: theVm.console.tail() })),
        ),
        sshSilentAfterLogin(theVm, port, SSH_GRACE_AFTER_LOGIN_MS, bootWatch.signal),
        guestFallsSilent(theVm, port, SILENCE_MS, bootWatch.signal, refusals),
      ]);
    const machine = await clock
      .run('session', profile.budgets.bootMs + 5_000, (ctx) => Machine.waitReady({ port, privateKeyPath: i.privateKeyPath, bootMs: profile.budgets.bootMs, refusals, race: () => Promise.race([race(), rejectOnAbort(ctx.signal)]), notBefore: () => nicUpOrLogin(theVm, bootWatch.signal) }), {
        consoleTail: () => theVm.console.tail(),
      })
      .finally(() => bootWatch.abort());
    const timeline = { vmStartedAt, readyAt: Date.now(), ...(theVm.console.kernelAt !== undefined ? { kernelAt: theVm.console.kernelAt } : {}) };
    const ranAway = clockRanAway(Number((await machine.succeed('cut -d " " -f1 /proc/uptime')).trim()), (timeline.readyAt - vmStartedAt) / 1000);
    if (ranAway) {
      machine.close();
      throw new InfraError('session', ranAway);
    }
    return { vsock, timeline, vm: theVm, tpm: started.tpm, ...(started.net ? { net: started.net } : {}), machine, port, criticalChain: criticalChain(machine) };
  };
  return retryInfraOnce(boot, {
    signal: i.signal,
    beforeRetry: async (r) => {
      i.log(`boot: retrying once after an infrastructure failure: ${r.reason}`);
      i.onRetry(r);
      await vm?.dispose();
      await tpm?.dispose();
      // The second attempt starts its own passt (a directory of its own): the first's goes now, not at teardown.
      await passt?.dispose();
      appendFileSync(run.consoleLog, `\n=== bootc-harness: boot attempt 2 (the first failed: ${r.reason}) ===\n`);
    },
  });
}

/** How long a boot may go without its NIC coming up (or a login prompt) before SSH is tried anyway. */
export const NIC_UP_FALLBACK_MS = 60_000;

/**
 * The guest's NIC came up (vm.nicUp), or the console shows a login prompt, or a minute passed:
 * whichever first. The latter two cover a guest whose NIC never reports its receive filter;
 * its boot is then waited for as before, by attempts.
 */
function nicUpOrLogin(vm: Vm, signal: AbortSignal): Promise<unknown> {
  return withDeadline(Promise.race([vm.nicUp(), vm.console.waitFor(/\blogin: *$/)]), NIC_UP_FALLBACK_MS, 'guest NIC up', signal).catch(() => undefined);
}

/** A passphrase prompt on a disk whose key is sealed to the TPM means the TPM would not unseal it. */
export function whyFatal(hit: ConsoleHit, luks: Luks): string {
  if (luks === 'tpm2' && hit.id === 'passphrase-prompt') return `TPM2 unlock failed: the initrd fell back to asking for a passphrase (${describeHit(hit)})`;
  return describeHit(hit);
}

/**
 * `systemd-analyze critical-chain` once the boot has finished. Asked for at ready, while the
 * suites' runner starts on the host: it costs systemd several seconds of work under TCG
 * (measured: 4.4 s), which after the tests would add to every run.
 */
function criticalChain(machine: Machine): Promise<string | undefined> {
  return machine
    .exec('systemctl is-system-running --wait >/dev/null 2>&1; systemd-analyze critical-chain --no-pager', 120_000)
    .then((r) => (r.exitCode === 0 ? r.stdout : undefined))
    .catch(() => undefined);
}

/** The journal of every boot of this run (the disk was fresh: a test's reboot makes a second
 *  boot, and its journal is persistent) into the report, journal.txt; the first boot's critical
 *  chain and its slowest units (from the journal's own Starting/Started lines) into
 *  boot-analysis.txt. The journal's text, or undefined when the guest would not give it. */
export async function saveJournal(machine: Machine, runDir: string, chain: Promise<string | undefined>): Promise<string | undefined> {
  const chainText = await chain;
  await machine.reconnect(60_000).catch(() => undefined);
  const journal = await machine.exec('journalctl --no-pager -o short-monotonic', 60_000).catch(() => undefined);
  const text = journal?.exitCode === 0 ? journal.stdout : undefined;
  if (text) writeFileSync(join(runDir, 'journal.txt'), text);
  const slowest = text ? slowestUnits(text, 20) : [];
  if (chainText || slowest.length) {
    const rows = slowest.map((u) => `${(u.ms / 1000).toFixed(3).padStart(9)} s  ${u.unit}`);
    writeFileSync(join(runDir, 'boot-analysis.txt'), `# the first boot: systemd-analyze critical-chain\n\n${chainText ?? '(not available)\n'}\n# its slowest units (Starting to Started/Finished, from its journal)\n\n${rows.join('\n')}\n`);
  }
  return text;
}
