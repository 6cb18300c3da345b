// What the CLI hands to the suites: a JSON file named by BOOTC_HARNESS_CONTEXT.
// It holds paths and the pinned host key, never key material.
import { readFileSync } from 'node:fs';
import { InfraError } from '../errors.js';
import type { Profile } from '../profile/profile.js';
import type { ScratchDisk } from '../vm/scratch-disks.js';
import type { BootcInstallRecord } from '../install/types.js';

export interface RunContext {
  runId: string;
  runDir: string;
  workDir: string;
  source: string;
  profile: Profile;
  ssh: { port: number; privateKeyPath: string; hostKey: string };
  manifestPath: string;
  consoleLog: string;
  kernel: { release: string; tier: string };
  /** The kernel release the installer put on the disk, read from the image on the host: what must boot. */
  installedKernel: string;
  /** Empty disks attached to the VM; `guestPath` is their stable name in the guest. */
  scratchDisks: ScratchDisk[];
  /** The composefs image digest the installer wrote, when the root is composefs. */
  composefsDigest?: string;
  /** The PCRs the installer sealed the root's key to ('' for none), when it sealed one. */
  luksPcrs?: string;
  /** bootc installs: the backend and, for ostree, the root the image's prepare-root.conf makes
   *  (tier 4's expectation of an ostree deployment's composefs root), read on the host. */
  bootc?: BootcInstallRecord;
  /** The image under test's manifest digest ("sha256:..."): what `bootc status` must name as booted. */
  imageDigest?: string;
  /** The zfs module's vermagic the host read from the image (pre stage's probe), when it has one. */
  zfsVermagic?: string;
  /** That module's version as the host read it (modinfo's `version:`). */
  zfsModuleVersion?: string;
  /** The VM had a vsock device (false: the host has no /dev/vhost-vsock, and what that causes is the harness's). */
  vsock: boolean;
  /** The caller's spec directories (--suites): `bootc-harness suites RUN` runs them again too. */
  userSuites?: string[];
}

export const CONTEXT_ENV = 'BOOTC_HARNESS_CONTEXT';

export function readRunContext(path = process.env[CONTEXT_ENV]): RunContext {
  if (!path) throw new InfraError('suites', `${CONTEXT_ENV} is not set: run the suites through "bootc-harness test-install"`);
  return JSON.parse(readFileSync(path, 'utf8')) as RunContext;
}
