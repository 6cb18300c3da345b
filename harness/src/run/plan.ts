// Pure: every install decision, from the options, the profile and what the image says of
// itself. validateInput and the disk stage ask the same function, so they cannot disagree.
import { UsageError } from '../errors.js';
import type { Profile } from '../profile/profile.js';
import type { BootcBackendChoice } from '../install/bootc-backend.js';
import type { TestInstallOptions } from './options.js';

export type Luks = 'tpm2' | 'none';

export interface InstallPlan {
  installer: 'bootc' | 'direct';
  /** How the installer lays out the root: the image's tree, or a composefs repository (the profile says, else the image's label). */
  rootLayout: 'plain' | 'composefs';
  luks: Luks;
  /** Where the installer's image-run step runs. bootc: always the image's own binary, so the VM
   *  unless the user asks for the host (which trusts the image, as bcvk's default does not);
   *  direct: only its TPM-binding step, in the VM only when asked. */
  placement: 'host' | 'vm';
  /** The user asked for --placement host with the bootc installer: the image's bootc runs privileged on the host. */
  trustsImage: boolean;
  /** bootc's backend as asked (--bootc-backend, else the profile); `auto`: the image decides at install. */
  bootcBackend: BootcBackendChoice;
}

type PlanOptions = Pick<TestInstallOptions, 'installer' | 'luks' | 'placement' | 'bootcBackend'>;

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
    // The image under test is untrusted: its own installer runs in a VM booted from it, as
    // bcvk's to-disk does (bootc-dev/bcvk crates/kit/src/to_disk.rs), unless --placement host.
    placement: opts.placement ?? (installer === 'bootc' ? 'vm' : 'host'),
    trustsImage: installer === 'bootc' && opts.placement === 'host',
    // Never from expect.composefs: an ostree deployment can have a composefs root too (issue 25).
    bootcBackend: opts.bootcBackend ?? profile.bootcBackend,
  };
}
