// Watches of a boot that race the wait for SSH: a login prompt with no sshd behind it
// (the image's fault), and a guest that has fallen silent (the infrastructure's).
import { AssertionFailure, InfraError } from '../errors.js';
import { poll } from '../util/deadline.js';
import type { Vm } from '../vm/vm.js';
import { NOT_ALLOWED_REASON, readSshBanner } from './banner.js';
import type { SshRefusals } from './refusals.js';

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
        // sshd is there and refuses: the silence watch names that (with what else it refused).
        if (r.refused) return { done: true, value: NOT_ALLOWED_REASON };
        last = r.closed;
        return { done: false, diagnostic: r.closed };
      },
      { what: 'SSH identification after the login prompt', budgetMs: graceMs, initialDelayMs: 500, maxDelayMs: 2_000, signal },
    ).catch(() => undefined);
    if (heard || signal.aborted) return new Promise<never>(() => undefined);
    throw new AssertionFailure('session', `the guest reached its login prompt ("${line.trim()}", a getty) but SSH did not answer within ${graceMs / 1000} s (${last}): is sshd (ssh.service or sshd.service) enabled and listening on port 22?`, {
      consoleTail: vm.console.tail(),
    });
  });
}

/**
 * Pure: the console's last words from its tail (the pending unterminated line included): the last
 * line, and when that is a kernel message, also the last thing userspace said before it (a prompt
 * is often followed by kernel lines, which say nothing about why the boot stopped).
 */
export function lastWords(tail: string): string {
  const lines = tail.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? '';
  const kernel = /^\[\s*\d+\.\d+\] /;
  if (!kernel.test(last)) return JSON.stringify(last.slice(0, 160));
  const said = [...lines].reverse().find((l) => !kernel.test(l));
  return said ? `${JSON.stringify(said.slice(0, 160))}, then kernel messages up to ${JSON.stringify(last.slice(0, 160))}` : JSON.stringify(last.slice(0, 160));
}

/**
 * Rejects when the guest has written nothing to its console for `silenceMs` and SSH has not
 * let the harness in. When sshd answers but refuses (authentication refused, OpenSSH's "Not
 * allowed at this time"), that is the image's: an AssertionFailure naming it. Only when nothing
 * answers at all is it a stalled guest (or QEMU), an InfraError named with QEMU's own status and
 * the console's last words, instead of waiting out the SSH budget. Each console write re-arms
 * the timer; a guest whose sshd answers and has refused nothing is not silent, however quiet
 * its console.
 */
export function guestFallsSilent(vm: Vm, port: number, silenceMs: number, signal: AbortSignal, refusals?: SshRefusals): Promise<never> {
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
      const nowNotAllowed = 'refused' in banner && banner.refused === true;
      // Refusals during the quiet spell count; one long before it (a key provisioned late) does not.
      const refused = refusals?.cause(nowNotAllowed, Date.now() - quietMs) ?? (nowNotAllowed ? `the guest's sshd answers but refuses the harness: ${NOT_ALLOWED_REASON}` : undefined);
      if (refused) {
        stop();
        return reject(new AssertionFailure('session', `${refused}; the console has been quiet for ${Math.round(quietMs / 1000)} s (last words: ${lastWords(vm.console.tail(20))})`, { consoleTail: vm.console.tail() }));
      }
      if ('banner' in banner) return arm(silenceMs);
      const status = await vm.status().catch((e: Error) => `unknown (${e.message})`);
      stop();
      reject(
        new InfraError(
          'session',
          `the guest fell silent: no console output for ${Math.round(quietMs / 1000)} s (last words: ${lastWords(vm.console.tail(20))}), ` +
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

