// The disk stage: the installer the plan chose writes a disk (or the disk cache has it).
// A tpm2-luks root is sealed to the TPM state the test VM boots with, on the host or in an
// installer VM with that TPM and the test VM's firmware.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installBootcInVm, installBootcOnHost } from '../install/bootc-install.js';
import { installDirect } from '../install/direct.js';
import { diskFor, type CachedInstall, type DiskForRun, type DiskKeyInputs, type InstallOutcome } from '../install/disk-cache.js';
import type { Profile } from '../profile/profile.js';
import { generateRunKey } from '../ssh/keys.js';
import { OVMF_CODE_CANDIDATES, OVMF_VARS_CANDIDATES } from '../vm/qemu-args.js';
import type { StageContext } from './stages.js';
import type { TestInstallOptions } from './options.js';
import type { InstallPlan } from './plan.js';
import type { OpenRun } from './run-dir.js';

/** Room the disk stage keeps after the installer VM's deadline for its teardown. */
const INSTALLER_VM_TEARDOWN_MS = 20_000;

export interface DiskStageInput {
  run: OpenRun;
  image: { id: string; ref: string; kargs: string[] };
  plan: InstallPlan;
  profile: Profile;
  opts: Pick<TestInstallOptions, 'accel' | 'diskCache'>;
  /** The disk stage's: Ctrl-C or the stage's budget stops the installer's tools. */
  ctx: StageContext;
}

export function firmware(): { code: string; varsTemplate: string } {
  return { code: OVMF_CODE_CANDIDATES.find((p) => existsSync(p))!, varsTemplate: OVMF_VARS_CANDIDATES.find((p) => existsSync(p))! };
}

export async function installDisk(i: DiskStageInput): Promise<DiskForRun> {
  const { run, image, plan, profile, opts, ctx } = i;
  const work = run.work;
  const tpmStateDir = join(work, 'tpm');
  const installerVm = {
    accel: opts.accel,
    cpus: profile.vm.cpus,
    memoryMiB: profile.vm.memoryMiB,
    firmware: firmware(),
    // Ends before the disk stage does, so the installer VM's own teardown runs first.
    deadline: ctx.deadline - INSTALLER_VM_TEARDOWN_MS,
    consoleLog: join(run.runDir, 'installer-console.log'),
    log: ctx.log,
  };
  if (plan.trustsImage) ctx.log('disk: --placement host trusts the image: its own bootc runs on this host as root in a privileged container');
  else if (plan.placement === 'vm') {
    ctx.log(plan.installer === 'bootc' ? "disk: the image's bootc runs in an installer VM booted from it, with the test VM's TPM" : "disk: the TPM-binding step runs in an installer VM with the test VM's TPM");
  }
  const install = async (): Promise<InstallOutcome> => {
    // The disk authorizes this key; a cached disk comes with the key it was installed with.
    const key = generateRunKey(work);
    const common = { imageId: image.id, runId: run.runId, workDir: work, authorizedKey: key.publicKey, minDiskGiB: profile.vm.diskGiB, kargs: image.kargs, signal: ctx.signal };
    const bootc = {
      ...common,
      imageRef: image.ref,
      filesystem: 'ext4' as const,
      backend: plan.bootcBackend,
      ...(plan.luks === 'tpm2' ? { blockSetup: 'tpm2-luks' as const } : {}),
    };
    const tpm2 = { stateDir: tpmStateDir, ...(plan.placement === 'vm' ? { inVm: installerVm } : {}) };
    const disk: CachedInstall =
      plan.installer === 'bootc'
        ? plan.placement === 'vm'
          ? await installBootcInVm({ ...bootc, tpmStateDir, vm: installerVm })
          : await installBootcOnHost({ ...bootc, log: ctx.log })
        : await installDirect({ ...common, log: ctx.log, rootLayout: plan.rootLayout, ...(plan.luks === 'tpm2' ? { luks: { tpm2 } } : {}) });
    return { disk, privateKeyPath: key.privateKeyPath, ...(plan.luks === 'tpm2' ? { tpmStateDir } : {}) };
  };
  const inputs: DiskKeyInputs = { imageId: image.id, installer: plan.installer, rootLayout: plan.rootLayout, luks: plan.luks, placement: plan.placement, kargs: image.kargs, minDiskGiB: profile.vm.diskGiB, bootcBackend: plan.bootcBackend };
  // An image made for this run alone (a directory's, an import) is gone after it: so is a disk of it.
  const bypass = opts.diskCache === false || run.ownsImage(image.id);
  return diskFor(inputs, { work, bypass, budgetMs: profile.budgets.diskMs, signal: ctx.signal, log: ctx.log }, install);
}
