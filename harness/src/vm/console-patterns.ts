// Console badness, in the spirit of kola's console checks: each pattern has an id
// (profiles can downgrade it to a warning), a description, and a regex for one line.

export interface ConsolePattern {
  id: string;
  description: string;
  regex: RegExp;
  /** Fatal patterns stop the run as soon as they appear; others are judged at the end. */
  fatal: boolean;
  /** A prompt waiting for input (no newline follows): judged on the pending partial line too. */
  prompt?: boolean;
  /**
   * A prompt that is fatal only once the boot has stayed at it (PROMPT_SETTLE_MS with no line that
   * `givesWay`): the console watch holds the hit that long, so an answered prompt is not a failure.
   */
  givesWay?: RegExp;
  /** The unit behind the prompt or failure, named in the verdict. */
  unit?: string;
}

/**
 * How long a boot must stay at a prompt before it counts as blocked. Short: nobody answers an
 * unattended boot's prompt, and the verdict should come at once, not after the SSH budget.
 */
export const PROMPT_SETTLE_MS = 5_000;

/** Kernel log lines interleave with anything on a serial console; they never mean a prompt was answered. */
const KERNEL_LINE = /^\[\s*\d+\.\d+\] /;

/** Pure: a line that shows the boot moved on from a pending prompt hit by `p` (one with `givesWay`). */
export function promptGaveWay(p: ConsolePattern, line: string): boolean {
  if (!p.givesWay || KERNEL_LINE.test(line) || p.regex.test(line)) return false;
  return p.givesWay.test(line);
}

export const CONSOLE_PATTERNS: readonly ConsolePattern[] = [
  { id: 'kernel-panic', description: 'kernel panic', regex: /Kernel panic - not syncing/, fatal: true },
  { id: 'oops', description: 'kernel Oops', regex: /\bOops(?::| -) ?[0-9a-f]{4}|^\[[ 0-9.]+\] Oops\b|BUG: unable to handle/, fatal: false },
  { id: 'kernel-warning', description: 'kernel WARNING', regex: /WARNING: CPU: \d+ PID: \d+ at /, fatal: false },
  { id: 'kernel-bug', description: 'kernel BUG', regex: /kernel BUG at |BUG: soft lockup|BUG: kernel NULL pointer/, fatal: false },
  { id: 'emergency-shell', description: 'dropped to the emergency shell', regex: /You are in emergency mode|Entering emergency mode|Reached target emergency\.target|Give root password for maintenance|Press Enter for maintenance|Cannot open access to console, the root account is locked/, fatal: true, unit: 'emergency.service' },
  { id: 'rescue-shell', description: 'dropped to the rescue shell', regex: /You are in rescue mode|Entering rescue mode/, fatal: true, unit: 'rescue.service' },
  { id: 'dracut-refused', description: 'dracut refused to continue', regex: /dracut: Refusing to continue|dracut-initqueue\[\d+\]: Warning: dracut-initqueue: starting timeout scripts/, fatal: true },
  { id: 'initramfs-shell', description: 'initramfs dropped to a shell', regex: /\(initramfs\)\s*$|Gave up waiting for root (file system )?device|ALERT! .* does not exist\.\s+Dropping to a shell/, fatal: true, prompt: true },
  { id: 'ordering-cycle', description: 'systemd ordering cycle', regex: /Ordering cycle found|Found ordering cycle/, fatal: false },
  { id: 'oom-killer', description: 'the OOM killer ran', regex: /invoked oom-killer|Out of memory: Killed process/, fatal: false },
  { id: 'segfault', description: 'a process segfaulted', regex: /segfault at [0-9a-f]+ ip |traps: .* general protection/, fatal: false },
  { id: 'core-dump', description: 'a process dumped core', regex: /systemd-coredump\[\d+\]: Process \d+ \(.*\) of user \d+ dumped core|\(core dumped\)/, fatal: false },
  { id: 'root-setup-failed', description: 'the initramfs could not set up the root filesystem', regex: /composefs-root: FAILED: /, fatal: true },
  { id: 'passphrase-prompt', description: 'the boot asked for a disk passphrase (unattended unlock failed)', regex: /Please enter passphrase for disk|Enter passphrase for /, fatal: true, prompt: true, givesWay: /Finished systemd-cryptsetup@|Reached target cryptsetup\.target|Switching root/, unit: 'systemd-cryptsetup@.service' },
  // systemd-firstboot.service (--prompt-locale --prompt-keymap --prompt-timezone --prompt-root-password,
  // ConditionFirstBoot=yes) on an image that leaves those unset: src/firstboot/firstboot.c's
  // print_welcome() writes "Welcome to your new installation of %s!\n\nPlease configure your system!\n\n"
  // and then waits for a key: "-- Press any key to proceed --" (printf without a newline in
  // firstboot.c's press_any_key() up to v255; puts() in src/basic/terminal-util.c's
  // any_key_to_proceed() since). It holds sysinit.target, and so sshd, until a key comes. Other
  // early units may still print status lines meanwhile (systemd suppresses only ephemeral ones
  // while a unit owns the console), so only firstboot's own end or sysinit.target ends the wait
  // (status lines say "Finished systemd-firstboot.service - First Boot Wizard." or, in older
  // systemd, the description alone).
  {
    id: 'firstboot-prompt',
    description: "systemd-firstboot is waiting at its interactive prompt (the image leaves first-boot settings unset: locale, keymap, timezone, root password)",
    regex: /Please configure your system!|-- Press any key to proceed --/,
    fatal: true,
    prompt: true,
    givesWay: /(Finished|Failed to start) (systemd-firstboot\.service|First Boot Wizard)|Reached target (sysinit\.target|System Initialization)/,
    unit: 'systemd-firstboot.service',
  },
  { id: 'tpm2-unlock-failed', description: 'TPM2 unlock failed', regex: /Failed to unseal secret using TPM2|TPM2 operation failed|Failed to activate with TPM2|Failed to unlock .* with TPM2|tpm2.*(policy check failed|PCR mismatch)/i, fatal: true },
  { id: 'generator-failed', description: 'a systemd generator failed', regex: /system-generators\/\S+ failed with exit status|Failed to execute generator/, fatal: false },
  { id: 'unit-failed', description: 'a unit failed during boot', regex: /\[FAILED\] Failed to start /, fatal: false },
];

export interface ConsoleHit {
  id: string;
  description: string;
  unit?: string;
  line: string;
  lineNo: number;
  fatal: boolean;
  warnOnly: boolean;
}

/** Pure: the first pattern a line matches, with the profile's warn-only set applied. */
export function matchLine(line: string, lineNo: number, warnOnly: ReadonlySet<string>, promptsOnly = false): ConsoleHit | undefined {
  for (const p of CONSOLE_PATTERNS) {
    if (promptsOnly && !p.prompt) continue;
    if (p.regex.test(line)) {
      const warn = warnOnly.has(p.id);
      return { id: p.id, description: p.description, ...(p.unit ? { unit: p.unit } : {}), line, lineNo, fatal: p.fatal && !warn, warnOnly: warn };
    }
  }
  return undefined;
}

/** Pure: scan a whole log (end-of-run check). */
export function scanConsole(text: string, warnOnly: ReadonlySet<string> = new Set()): ConsoleHit[] {
  const hits: ConsoleHit[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((l, i) => {
    const hit = matchLine(stripAnsi(l), i + 1, warnOnly);
    if (hit) hits.push(hit);
  });
  return hits;
}

/**
 * Serial consoles carry colour codes and carriage returns. CSI sequences with intermediate bytes
 * too (systemd-firstboot opens with a soft reset, ESC [ ! p) and OSC strings (ESC ] 104 BEL).
 */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\r/g, '');
}

/** Lines around a hit, quoted in failures. */
export function excerpt(lines: readonly string[], lineNo: number, before = 5, after = 5): string {
  const from = Math.max(0, lineNo - 1 - before);
  return lines
    .slice(from, lineNo + after)
    .map((l, i) => `${from + i + 1 === lineNo ? '>' : ' '} ${stripAnsi(l)}`)
    .join('\n');
}

export function describeHit(hit: ConsoleHit): string {
  return `console: ${hit.description} [${hit.id}${hit.unit ? `, ${hit.unit}` : ''}] at line ${hit.lineNo}: ${hit.line.trim()}`;
}

/**
 * Pure: why a hit is the harness's doing rather than the image's, if it is. A VM without a
 * vsock device (the host has no /dev/vhost-vsock) makes a stock systemd-ssh-generator fail
 * right after it says it cannot query its AF_VSOCK CID.
 */
export function harnessCause(hit: ConsoleHit, lines: readonly string[], vm: { vsock: boolean }): string | undefined {
  if (vm.vsock || hit.id !== 'generator-failed' || !/systemd-ssh-generator/.test(hit.line)) return undefined;
  const before = lines.slice(Math.max(0, hit.lineNo - 6), hit.lineNo - 1);
  if (!before.some((l) => /systemd-ssh-generator\[\d+\]: Failed to query local AF_VSOCK CID/.test(l))) return undefined;
  return "the VM has no vsock device (this host has no /dev/vhost-vsock), so systemd-ssh-generator could not query its AF_VSOCK CID: the harness's doing, not the image's";
}
