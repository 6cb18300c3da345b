// The installer contract: what every installer is given and what it hands back to the disk
// stage (and the disk cache), and how the run boots an installer VM when a step needs one.
import type { OneshotVmSettings } from '../vm/oneshot-vm.js';
import type { OstreeDeployment } from './ostree-record.js';

/** What every installer is given: the image, the run's work dir, the per-run SSH key. */
export interface InstallOptions {
  imageId: string;
  runId: string;
  workDir: string;
  authorizedKey: string;
  minDiskGiB: number;
  kargs: readonly string[];
  signal?: AbortSignal;
}

export interface InstalledDisk {
  path: string;
  format: 'raw';
  kernel: { release: string; vmlinuz: string };
  cmdline: string;
  /** The composefs image digest, when the root is composefs. */
  composefsDigest?: string;
  /** The LUKS2 UUID of the root, when it is encrypted. */
  luksUuid?: string;
  /** The installer's record of the PCRs the root's key is sealed to ('' for none), when it is encrypted. */
  luksPcrs?: string;
  /** bootc installs: what bootc was asked to do and what the image makes of it. */
  bootc?: BootcInstallRecord;
}

/** The bootc installer's record of an install, for the suites (run context) and the cache. */
export interface BootcInstallRecord {
  backend: 'ostree' | 'composefs';
  /** One line: why that backend (install/bootc-backend.ts). */
  backendWhy: string;
  /** The manifest digest of the image bootc installed from (VM placement: the exported copy). */
  manifestDigest?: string;
  /** ostree backend: the root ostree-prepare-root makes of the image's prepare-root.conf. */
  ostreeRoot?: {
    /** [composefs] enabled as ostree reads it (no file: no). */
    composefs: 'yes' | 'no' | 'maybe' | 'verity' | 'signed';
    /** The file that decided, inside the image. */
    from?: string;
    /** What tier 4 expects of it: a composefs root with fs-verity required or optional, or none. */
    expect: { verity: 'required' | 'optional' } | null;
    /** The deployments on the disk and the digests of the composefs image ostree wrote for each,
     *  read on the host (install/ostree-record.ts); absent when the root is encrypted. */
    deployments?: OstreeDeployment[];
  };
}

/** How the run boots the installer VM (vm/oneshot-vm.ts) for an install step that needs one. */
export type InstallerVmSettings = OneshotVmSettings;
