// A oneshot systemd unit run once in a VM: it waits for its devices, runs one command,
// prints a result line (console and a virtio-serial port) and powers the VM off either way;
// and the parser of that line.
import { UsageError } from '../errors.js';

/** virtio-serial port name: /dev/virtio-ports/<name> in the guest. */
export const INSTALL_RESULT_PORT = 'org.bootc-harness.install-result';
/** The result line: `bootc-harness-install: exit=<status> code=<how> result=<systemd result>`. */
export const INSTALL_MARKER = 'bootc-harness-install:';

/** One systemd command-line word (systemd.service(5) "Command lines"): quoted when needed;
 *  `$` and `%` doubled so neither variable nor specifier expansion touches it. */
export function systemdWord(w: string): string {
  if (/[\0-\x1f\x7f]/.test(w)) throw new UsageError(`control character in unit argument ${JSON.stringify(w)}`);
  if (w === ';') throw new UsageError('a lone ";" separates commands in a unit file');
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(w)) return w;
  return `"${w.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

/** An Exec*= value from an argv; argv[0] must be an absolute path. */
export function systemdExecLine(argv: readonly string[]): string {
  const [cmd] = argv;
  if (cmd === undefined || !/^\/[A-Za-z0-9_./-]+$/.test(cmd)) throw new UsageError(`unit command must be an absolute path, got ${JSON.stringify(cmd)}`);
  return argv.map(systemdWord).join(' ');
}

// Runs after the install ends, whatever happened (systemd.service(5): ExecStopPost= also runs
// when the service failed to start up). $EXIT_CODE/$EXIT_STATUS describe the main process
// ("exited"/number, or "killed"/signal name) and are unset when it never ran; $SERVICE_RESULT
// is always set. Written to the console and, when QEMU has the port, to the virtio-serial port.
const RESULT_SCRIPT =
  `m="${INSTALL_MARKER} exit=\${EXIT_STATUS:-none} code=\${EXIT_CODE:-none} result=\${SERVICE_RESULT:-none}"; ` +
  'echo "$m" >/dev/console; ' +
  `p=/dev/virtio-ports/${INSTALL_RESULT_PORT}; if [ -e "$p" ]; then echo "$m" >"$p"; fi`;

/** A oneshot unit for the installer VM: waits for its devices, runs `exec`, prints the result
 *  line and powers the VM off either way. Every placement's install step runs as one. */
export interface InstallerServiceOptions {
  description: string;
  /** argv; argv[0] absolute. */
  exec: readonly string[];
  /** Device nodes udevadm waits for before anything runs. */
  waitFor: readonly string[];
  environment?: readonly string[];
  /** More ExecStartPre= argv lists, after the device wait. */
  pre?: readonly (readonly string[])[];
  /** Seconds udevadm waits for the devices. Default 120. */
  deviceTimeoutSec?: number;
}

export function installerServiceUnit(o: InstallerServiceOptions): string {
  const timeout = o.deviceTimeoutSec ?? 120;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new UsageError(`bad device timeout ${timeout}`);
  if (/[\0-\x1f]/.test(o.description)) throw new UsageError('control character in unit description');
  const lines = [
    '[Unit]',
    `Description=${o.description}`,
    // The credential's units also appear in a systemd initrd: run only in the real root.
    'ConditionPathExists=!/etc/initrd-release',
    // systemd.unit(5): power off when the unit ends, successful or not.
    'SuccessAction=poweroff',
    'FailureAction=poweroff',
    '',
    '[Service]',
    'Type=oneshot',
    'TimeoutStartSec=infinity',
    'StandardOutput=journal+console',
    'StandardError=journal+console',
    ...(o.environment ?? []).map((e) => `Environment=${systemdWord(e)}`),
    // udevadm(8) wait (systemd >= 251): the by-id links and the TPM node exist before anything looks.
    ...(o.waitFor.length ? [`ExecStartPre=${systemdExecLine(['/usr/bin/udevadm', 'wait', `--timeout=${timeout}`, ...o.waitFor])}`] : []),
    ...(o.pre ?? []).map((argv) => `ExecStartPre=${systemdExecLine(argv)}`),
    `ExecStart=${systemdExecLine(o.exec)}`,
    `ExecStopPost=${systemdExecLine(['/usr/bin/sh', '-c', RESULT_SCRIPT])}`,
  ];
  return lines.join('\n') + '\n';
}


export interface InstallResult {
  /** bootc's exit status; -1 when it was killed by a signal or never started. */
  exitCode: number;
  /** $EXIT_CODE: exited, killed, dumped, or none (bootc never ran: a step before it failed). */
  code: string;
  /** $EXIT_STATUS: the number, the signal name, or none. */
  status: string;
  /** $SERVICE_RESULT: success, exit-code, signal, core-dump, timeout, resources, … */
  serviceResult: string;
}

// Only the expanded, complete line matches: not the unit's own text (${EXIT_STATUS:-none}, …),
// not a line still being written.
const MARKER_RE = /bootc-harness-install: exit=(\d+|none|[A-Z][A-Z0-9+]*) code=(exited|killed|dumped|none) result=([a-z][a-z-]*)(?=\r?\n)/g;

/** The last complete result line in a console (or result-port) text, or undefined if there is none yet. */
export function parseInstallResult(consoleText: string): InstallResult | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of consoleText.matchAll(MARKER_RE)) last = m;
  if (!last) return undefined;
  const [, status, code, serviceResult] = last as unknown as [string, string, string, string];
  const exitCode = code === 'exited' && /^\d+$/.test(status) ? Number(status) : -1;
  return { exitCode, code, status, serviceResult };
}
