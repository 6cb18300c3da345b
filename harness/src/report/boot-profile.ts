// Pure: where a boot's time went, for the report and the benchmark: the firmware (QEMU up to
// the kernel's first console line), the guest to sshd listening (its own journal), and sshd
// listening to the harness's first authenticated round trip (what the harness adds).
export interface BootTimeline {
  /** QEMU started (ms since the epoch). */
  vmStartedAt: number;
  /** The kernel's first console line arrived. */
  kernelAt?: number;
  /** The harness's first authenticated SSH round trip. */
  readyAt: number;
}

export interface BootProfile {
  firmwareMs?: number;
  /** Kernel start to sshd listening, in the guest's own monotonic time. */
  kernelToSshdMs?: number;
  /** sshd listening to ready: the harness's own share of the boot. */
  sshdToReadyMs?: number;
  /** Of that, sshd listening to the guest accepting the harness's key (its journal): the
   *  guest's own work (a session process started, the key exchange, the signature checked). */
  sshdToAuthMs?: number;
  vmToReadyMs: number;
}

/** Pure: the guest's monotonic time (ms) when sshd first said it listens, from `journalctl -o short-monotonic`. */
export function sshdListeningMs(journal: string): number | undefined {
  const m = /^\[\s*(\d+\.\d+)\] \S+ sshd\[\d+\]: Server listening on /m.exec(journal);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** Pure: the guest's monotonic time (ms) when sshd first accepted a key, from `journalctl -o short-monotonic`. */
export function sshdAcceptedMs(journal: string): number | undefined {
  const m = /^\[\s*(\d+\.\d+)\] \S+ sshd(?:-session)?\[\d+\]: Accepted publickey for /m.exec(journal);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

export function bootProfile(t: BootTimeline, journal: string | undefined): BootProfile {
  const listening = journal ? sshdListeningMs(journal) : undefined;
  const out: BootProfile = { vmToReadyMs: t.readyAt - t.vmStartedAt };
  if (t.kernelAt !== undefined) out.firmwareMs = t.kernelAt - t.vmStartedAt;
  if (listening !== undefined) out.kernelToSshdMs = listening;
  // The kernel's clock starts a moment before its first console line: close enough to place sshd on the host's clock.
  if (listening !== undefined && t.kernelAt !== undefined) out.sshdToReadyMs = t.readyAt - (t.kernelAt + listening);
  const accepted = journal ? sshdAcceptedMs(journal) : undefined;
  if (listening !== undefined && accepted !== undefined && accepted >= listening) out.sshdToAuthMs = accepted - listening;
  return out;
}

/**
 * Pure: the units that took longest to start in the journal's first boot, from systemd's own
 * "Starting X..." and "Started X"/"Finished X" (or "Mounting"/"Mounted") lines: what
 * `systemd-analyze blame` shows, without asking systemd again (seconds under TCG).
 */
export function slowestUnits(journal: string, n: number): { unit: string; ms: number }[] {
  const firstBoot = journal.split(/^-- Boot /m)[0]!;
  const began = new Map<string, number>();
  const took = new Map<string, number>();
  const line = /^\[\s*(\d+\.\d+)\] \S+ systemd\[1\]: (Starting|Started|Finished|Mounting|Mounted|Failed to start) (\S+?)(?: - |\.\.\.|\.$| |$)/gm;
  for (const m of firstBoot.matchAll(line)) {
    const [at, verb, unit] = [Math.round(Number(m[1]) * 1000), m[2]!, m[3]!];
    if (verb === 'Starting' || verb === 'Mounting') began.set(unit, at);
    else if (began.has(unit) && !took.has(unit)) took.set(unit, at - began.get(unit)!);
  }
  return [...took].map(([unit, ms]) => ({ unit, ms })).sort((a, b) => b.ms - a.ms || a.unit.localeCompare(b.unit)).slice(0, n);
}
