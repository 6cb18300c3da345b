// Pure: every install decision, from the options, the profile and what the image says of
// itself. validateInput and the disk stage ask the same function, so they cannot disagree.
import { UsageError } from '../errors.js';
import type { Profile } from '../profile/profile.js';
import type { TestInstallOptions } from './options.js';

export type Luks = 'tpm2' | 'none';

export interface InstallPlan {
  installer: 'bootc' | 'direct';
  /** How the installer lays out the root: the image's tree, or a composefs repository (the profile says, else the image's label). */
  rootLayout: 'plain' | 'composefs';
  luks: Luks;
  /** Where the TPM-binding step runs: bootc's tpm2-luks binds the TPM the installer sees. */
  placement: 'host' | 'vm';
  composefsBackend: boolean;
}

type PlanOptions = Pick<TestInstallOptions, 'installer' | 'luks' | 'placement'>;

/** The root's encryption: asked for, or what the profile expects. */
export function luksOf(opts: Pick<TestInstallOptions, 'luks'>, profile: Profile): Luks {
  return opts.luks ?? (profile.expect.luks?.tpm2 ? 'tpm2' : 'none');
}

export function planInstall(opts: PlanOptions, profile: Profile, image: { ref: string; hasBootc: boolean; rootLabel?: string }): InstallPlan {
  const installer = opts.installer === 'auto' ? (image.hasBootc ? 'bootc' : profile.installer === 'auto' ? 'direct' : profile.installer) : opts.installer;
  if (installer === 'bootc' && !image.hasBootc) throw new UsageError(`--installer bootc: image ${image.ref} has no /usr/bin/bootc`);
  const luks = luksOf(opts, profile);
  return {
    installer,
    rootLayout: profile.rootLayout ?? (image.rootLabel === 'composefs' ? 'composefs' : 'plain'),
    luks,
    placement: opts.placement ?? (installer === 'bootc' && luks === 'tpm2' ? 'vm' : 'host'),
    composefsBackend: profile.expect.composefs !== null,
  };
}
