// Watches of a boot that race the wait for SSH: a login prompt with no sshd behind it
// (the image's fault), and a guest that has fallen silent (the infrastructure's).
import { AssertionFailure, InfraError } from '../errors.js';
import { poll } from '../util/deadline.js';
import type { Vm } from '../vm/vm.js';
import { readSshBanner } from './banner.js';

/**
 * sshd starts before the getty: a login prompt and no SSH identification this long after
 * means no sshd. Not shorter: on a loaded 2-core TCG host a trixie guest took 85 s to start
 * ssh.service and more than 10 s more to send its first identification.
 */
export const SSH_GRACE_AFTER_LOGIN_MS = 30_000;

/** A boot with no console output and no SSH identification for this long has stalled. */
export const SILENCE_MS = 50_000;

/**
 * Rejects when the console shows a login prompt and, for `graceMs` after it, the
 * port never answers with an SSH identification. Once one is seen sshd is there
 * (a slow handshake is not a missing daemon) and this never fires.
 */
export function sshSilentAfterLogin(vm: Vm, port: number, graceMs: number, signal: AbortSignal): Promise<never> {
  return vm.console.waitFor(/\blogin: *$/).then(async (line) => {
    if (signal.aborted) return new Promise<never>(() => undefined);
    let last = '';
    const heard = await poll(
      async () => {
        const r = await readSshBanner(port, 5_000);
        if ('banner' in r) return { done: true, value: r.banner };
        last = r.closed;
        return { done: false, diagnostic: r.closed };
      },
      { what: 'SSH identification after the login prompt', budgetMs: graceMs, initialDelayMs: 500, maxDelayMs: 2_000, signal },
    ).catch(() => undefined);
    if (heard || signal.aborted) return new Promise<never>(() => undefined);
    throw new AssertionFailure('session', `the guest reached its login prompt ("${line.trim()}") but SSH did not answer within ${graceMs / 1000} s (${last}): is sshd enabled and listening on port 22?`, {
      consoleTail: vm.console.tail(),
    });
  });
}

/**
 * Rejects with an InfraError when the guest has written nothing to its console for
 * `silenceMs` and its SSH port gives no identification either: a stalled guest (or
 * QEMU), named with QEMU's own status and the console's last line and its age, instead
 * of waiting out the SSH budget. Each console write re-arms the timer; a guest whose
 * sshd answers is not silent, however quiet its console.
 */
export function guestFallsSilent(vm: Vm, port: number, silenceMs: number, signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(check, ms);
      timer.unref();
    };
    const stop = () => {
      clearTimeout(timer);
      vm.console.off('output', onOutput);
    };
    const onOutput = () => arm(silenceMs);
    const check = async () => {
      if (signal.aborted) return stop();
      const quietMs = Date.now() - vm.console.lastOutputAt;
      if (quietMs < silenceMs) return arm(silenceMs - quietMs);
      const banner = await readSshBanner(port, 5_000);
      if (signal.aborted) return stop();
      if ('banner' in banner) return arm(silenceMs);
      const status = await vm.status().catch((e: Error) => `unknown (${e.message})`);
      stop();
      const last = vm.console.lastLine().trim();
      reject(
        new InfraError(
          'session',
          `the guest fell silent: no console output for ${Math.round(quietMs / 1000)} s (last line: ${JSON.stringify(last.slice(0, 160))}), ` +
            `no SSH identification on 127.0.0.1:${port} (${banner.closed}), QEMU status "${status}"`,
          { consoleTail: vm.console.tail() },
        ),
      );
    };
    vm.console.on('output', onOutput);
    signal.addEventListener('abort', stop, { once: true });
    arm(silenceMs);
  });
}

/**
 * Pure: a guest whose clock ran far ahead of the host's during its boot. Under TCG a guest
 * that calibrates its TSC while its vCPU thread is starved gets the frequency wrong and its
 * time runs fast (measured: 745 s of guest uptime 41 s into the boot, and systemd's start
 * timeouts then failing logind and networkd). That boot says nothing of the image: the
 * infrastructure's, retried once. Normally the guest's uptime is below the host's elapsed
 * time (the firmware ran before the kernel's clock started).
 */
export function clockRanAway(guestUptimeS: number, hostElapsedS: number): string | undefined {
  if (!(guestUptimeS > 2 * hostElapsedS + 60)) return undefined;
  return `the guest's clock ran away during the boot: ${guestUptimeS.toFixed(0)} s of guest uptime after ${hostElapsedS.toFixed(0)} s on the host (a TSC miscalibrated under TCG); its unit timeouts fired early, so this boot proves nothing about the image`;
}

