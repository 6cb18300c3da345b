// A running QEMU, booted from its disk (the test VM) or from the image's kernel (the installer
// VM): owns its process group, its console watch and its QMP socket. `exited` settles when
// QEMU is gone; everything that waits on the guest races it.
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { spawn, type Child } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { ConsoleWatch } from './console-watch.js';
import { Qmp } from './qmp.js';
import { qemuArgs, type KernelBootProfile, type QemuProfile } from './qemu-args.js';
import { killGroup } from '../util/process-group.js';
import { listening } from './daemon.js';
import { denialClause, kernelDenials } from './denials.js';

export interface VmExit {
  code: number | null;
  signal: string | null;
  stderr: string;
}

/** Omit over each member of a union (Omit of a union keeps only the keys they share). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type VmOptions = OmitEach<QemuProfile | KernelBootProfile, 'ovmfVars' | 'qmpSocket'> & {
  dir: string;
  ovmfVarsTemplate: string;
  consoleLog: string;
  /** Console patterns that only warn (the profile's console.warnOnly). */
  warnOnly?: ReadonlySet<string>;
  /** Whose failure a QEMU failure is: the test boot's (vm) or the installer's (disk). */
  stage?: 'vm' | 'disk';
  /** File names in `dir`: two VMs of one run (installer, test) must not share them. */
  prefix?: string;
};

export class Vm {
  readonly exited: Promise<VmExit>;
  private qmp?: Qmp;
  private disposed = false;
  private stderr = '';

  private constructor(readonly console: ConsoleWatch, private child: Child, private stage: 'vm' | 'disk', private qmpSocket: string) {
    // Only its tail is ever shown (exitError): keep the last 64 KiB, whatever QEMU writes.
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-65_536)));
    this.exited = child.then((r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null, stderr: this.stderr.trim() }));
  }

  static async start(opts: VmOptions): Promise<Vm> {
    // Each VM gets its own copy of the UEFI variables: boot entries written by one run never leak into the next.
    const prefix = opts.prefix ?? '';
    const ovmfVars = join(opts.dir, `${prefix}OVMF_VARS.fd`);
    copyFileSync(opts.ovmfVarsTemplate, ovmfVars);
    const qmpSocket = join(opts.dir, `${prefix}qmp.sock`);
    // A socket file left by an earlier QEMU of this run (the first boot attempt's, killed) would
    // look ready at once to listening(), and the one connect below would be refused.
    rmSync(qmpSocket, { force: true });
    const args = qemuArgs({ ...opts, ovmfVars, qmpSocket });
    const stage = opts.stage ?? 'vm';
    const watch = new ConsoleWatch(opts.consoleLog, opts.warnOnly);
    const child = spawn(args, { stage, cwd: opts.dir });
    if (child.stdout) watch.attach(child.stdout);
    const vm = new Vm(watch, child, stage, qmpSocket);
    try {
      await listening(qmpSocket, vm.exited, (e) => vm.exitError(e), 15_000, 'QEMU monitor socket');
      // listening() waited until the socket listens (not merely exists): one connect, no retries.
      vm.qmp = await Promise.race([withDeadline(Qmp.connect(qmpSocket), 15_000, 'QEMU monitor connect'), vm.exited.then((e) => Promise.reject(vm.exitError(e)))]);
    } catch (e) {
      await vm.dispose();
      // Where the kernel refused it (AppArmor), its denial says why.
      const denied = denialClause(await kernelDenials(args[0]!, opts.dir));
      if (e instanceof InfraError) throw denied ? new InfraError(stage, `${e.message.replace(/^\[\w+\] /, '')}${denied}`, { cause: e, ...(e.consoleTail ? { consoleTail: e.consoleTail } : {}) }) : e;
      throw new InfraError(stage, `QEMU did not start: ${(e as Error).message}${denied}`, { cause: e });
    }
    return vm;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  exitError(e: VmExit): InfraError {
    const how = e.signal ? `killed by ${e.signal}` : `exited with ${e.code}`;
    return new InfraError(this.stage, `QEMU ${how}${e.stderr ? `: ${e.stderr.split('\n').slice(-3).join(' | ')}` : ''}`, {
      consoleTail: this.console.tail(),
    });
  }

  /**
   * Settles when the guest first brings its NIC up: virtio-net reports the guest setting its
   * receive filter (QMP NIC_RX_FILTER_CHANGED), which Linux does as the link goes up. Until
   * then nothing in the guest can answer a connection.
   */
  nicUp(): Promise<void> {
    return new Promise((resolve) => {
      const qmp = this.qmp;
      if (!qmp) return;
      const on = (event: string) => {
        if (event !== 'NIC_RX_FILTER_CHANGED') return;
        qmp.off('event', on);
        resolve();
      };
      qmp.on('event', on);
    });
  }

  /** QEMU's own view of the guest (QMP query-status: running, paused, guest-panicked, internal-error, ...). */
  async status(): Promise<string> {
    if (!this.qmp) return 'no monitor';
    const r = (await withDeadline(this.qmp.execute('query-status'), 5_000, 'QMP query-status')) as { status?: string };
    return r.status ?? 'unknown';
  }

  /**
   * Powers the guest off: first as `askGuest` asks it (systemctl poweroff over the session the
   * harness holds: an image without logind ignores the ACPI button), then the ACPI button,
   * each with half the budget; kills QEMU when the budget runs out. The disk is a throwaway
   * overlay, so nothing needs a clean unmount.
   */
  async shutdown(budgetMs: number, askGuest?: () => Promise<unknown>): Promise<'asked' | 'acpi' | 'killed'> {
    if (this.child.exitCode !== null) return 'asked';
    if (askGuest) {
      try {
        await askGuest();
        await withDeadline(this.exited, budgetMs / 2, 'guest power-off (systemctl)');
        return 'asked';
      } catch {
        /* the button next */
      }
    }
    try {
      await this.qmp?.execute('system_powerdown');
      await withDeadline(this.exited, askGuest ? budgetMs / 2 : budgetMs, 'guest power-off (ACPI)');
      return 'acpi';
    } catch {
      await this.dispose();
      return 'killed';
    }
  }

  /**
   * --keep: the VM outlives this process. QEMU itself writes the console into `consoleLog`
   * from now on (QMP chardev-change), our monitor connection and pipes close, and nothing
   * of ours holds the process any more; dispose() no longer stops it. QEMU runs in its own
   * process group, so no signal meant for us reaches it.
   */
  async handOver(consoleLog: string): Promise<void> {
    if (!this.qmp) throw new InfraError('vm', 'no QEMU monitor to hand the VM over with');
    await withDeadline(this.qmp.execute('chardev-change', { id: 'console', backend: { type: 'file', data: { out: consoleLog, append: true } } }), 5_000, 'QMP chardev-change');
    this.disposed = true;
    this.qmp.close();
    await this.console.close();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.child.unref();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.qmp?.close();
    await killGroup(this.child, this.exited, 3000);
    // QEMU killed (SIGKILL after 3 s) leaves its socket file; a gone VM has no monitor.
    rmSync(this.qmpSocket, { force: true });
    await this.console.close();
  }
}
