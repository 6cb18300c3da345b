// What a test-install run is asked to do, and what it gives back.
import type { EventSink } from '../report/events.js';
import type { Summary } from '../report/summary.js';

export const ALL_TIERS = [0, 1, 2, 3, 4] as const;

export interface TestInstallOptions {
  source?: string;
  profile?: string;
  /** Why that profile, when not --profile (the caller's bootc-harness.toml names it). */
  profileReason?: string;
  tiers: number[];
  /** The caller's spec directories (--suites DIR, or bootc-harness.toml): the user tier. */
  userSuites?: string[];
  /** The tiers were asked for by name (--tier): one in which no test runs fails the run. */
  tiersExplicit?: boolean;
  installer: 'auto' | 'bootc' | 'direct';
  accel: 'auto' | 'kvm' | 'tcg';
  keep: boolean;
  reportDir?: string;
  /** Encrypt the root with a TPM2-sealed key; default: what the profile expects (expect.luks.tpm2). */
  luks?: 'tpm2' | 'none';
  /** Where the installer's step that runs image code or binds the TPM runs: on the host, or in
   *  an installer VM booted from the image with the test VM's TPM and firmware. Default: vm for
   *  bootc (the image's own bootc; host trusts the image), host for direct (host tools only). */
  placement?: 'host' | 'vm';
  /** bootc's install backend; default: the profile's bootcBackend (auto: the image decides). */
  bootcBackend?: 'auto' | 'ostree' | 'composefs';
  /** Boot with a new TPM instead of the one the installer enrolled (a negative test of TPM binding). */
  freshTpm?: boolean;
  /** false: install afresh and keep nothing (--no-disk-cache); default: the installed-disk cache. */
  diskCache?: boolean;
  /** How many VMs run at once on this host alongside this one, itself included (matrix --jobs):
   *  under TCG they share the cores (vm/vcpus.ts). Default 1. */
  vmsAtOnce?: number;
  /** false: skip the checks the image's files answer before install (--no-pre). */
  pre?: boolean;
  log: (line: string) => void;
  /** Hears every stage start and end and each test's result, as they happen. */
  events?: EventSink;
  /** Our stdout carries JSON events (--json): the suites' own output goes to stderr. */
  json?: boolean;
  signal: AbortSignal;
}

/** Once its run exists, a run always ends here, passed or not (only bad input throws, before it). */
export interface TestInstallResult {
  exitCode: number;
  runDir: string;
  summary: Summary;
  /** Why it did not pass: the error its exit code stands for, for the caller to print. */
  failure?: Error;
}
