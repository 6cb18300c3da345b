// Installer "bootc", host placement: the image installs itself with `bootc install
// to-disk --via-loopback` in a privileged podman container, onto a disk file in the
// run's work dir, exactly as bootc's docs tell users to. The command lines are built
// (and unit-tested) in bootc-args.ts; this module runs them and turns failures into
// clear errors. A tpm2-luks install needs the VM's TPM, so it cannot be placed here.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionFailure, InfraError, UsageError } from '../errors.js';
import { mountedContainer } from '../image/buildah.js';
import { findKernel } from '../image/kernel.js';
import { run, runChecked } from '../util/exec.js';
import { Teardown } from '../util/teardown.js';
import { requireTools } from '../util/tools.js';
import { bootcInstallCommand, checkBlockSetupAllowed, classifyPodmanFailure, rootKeyCredentialQemuArgs, type BlockSetup, type RootFilesystem } from './bootc-args.js';
import type { InstallOptions, InstalledDisk } from './direct.js';

/** Where bootc reads install configs, lowest precedence first (bootc-install-config(5)). */
export const INSTALL_CONFIG_DIRS = ['usr/lib/bootc/install', 'usr/local/lib/bootc/install', 'etc/bootc/install', 'run/bootc/install'];

export interface BootcHostInstallOptions extends InstallOptions {
  imageRef: string;
  filesystem: RootFilesystem;
  composefsBackend: boolean;
  blockSetup?: BlockSetup;
}

export interface BootcInstalledDisk extends InstalledDisk {
  /** Extra QEMU arguments the test boot needs (the root SSH key as an SMBIOS credential). */
  qemuExtraArgs: string[];
}

/** The image's install configs (path inside the image, text). */
export function readInstallConfigs(mnt: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const dir of INSTALL_CONFIG_DIRS) {
    const abs = join(mnt, dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs).filter((n) => n.endsWith('.toml')).sort()) out.push({ path: `/${dir}/${f}`, text: readFileSync(join(abs, f), 'utf8') });
  }
  return out;
}

export async function installBootcOnHost(o: BootcHostInstallOptions): Promise<BootcInstalledDisk> {
  const S = { stage: 'disk' as const, signal: o.signal };
  const td = new Teardown();
  try {
    const ctr = await mountedContainer(o.imageId, `bh-${o.runId}-bootc`, td);
    if (!existsSync(join(ctr.mountpoint, 'usr/bin/bootc'))) throw new UsageError(`--installer bootc: image ${o.imageRef} has no /usr/bin/bootc`);
    if (o.blockSetup) {
      const why = checkBlockSetupAllowed(readInstallConfigs(ctr.mountpoint), o.blockSetup);
      if (why) throw new UsageError(why);
    }
    const kernel = findKernel(ctr.mountpoint);
    if (!kernel) throw new UsageError(`image ${o.imageRef} has no kernel`);
    const vmlinuz = join(o.workDir, 'vmlinuz');
    await runChecked(['cp', kernel.vmlinuz, vmlinuz], S);

    const disk = join(o.workDir, 'disk.raw');
    writeFileSync(join(o.workDir, 'authorized_keys'), o.authorizedKey + '\n', { mode: 0o600 });
    // Throws UsageError for what cannot work (tpm2-luks via loopback would bind the host's TPM).
    const argv = bootcInstallCommand(
      {
        imageRef: o.imageRef,
        targetDevice: '/output/disk.raw',
        filesystem: o.filesystem,
        kargs: o.kargs,
        authorizedKeysPath: '/output/authorized_keys',
        composefsBackend: o.composefsBackend,
        ...(o.blockSetup ? { blockSetup: o.blockSetup } : {}),
        viaLoopback: true,
        genericImage: true,
      },
      [{ host: o.workDir, guest: '/output' }],
    );
    requireTools(['podman']);
    await runChecked(['truncate', '-s', `${o.minDiskGiB}G`, disk], S);
    const r = await run(argv, S);
    if (r.exitCode !== 0) {
      const host = classifyPodmanFailure(r.stderr);
      if (host) throw new InfraError('disk', host);
      const tail = r.stderr.trim().split('\n').slice(-8).join('\n');
      throw new AssertionFailure('disk', `bootc install to-disk failed (exit ${r.exitCode}):\n${tail}`);
    }
    await td.runOrThrow();
    return {
      path: disk,
      format: 'raw',
      kernel: { release: kernel.release, vmlinuz },
      cmdline: o.kargs.join(' '),
      // bootc's composefs backend ignores --root-ssh-authorized-keys: systemd provisions
      // root's key from this credential at boot (tmpfiles provision.conf), either backend.
      qemuExtraArgs: rootKeyCredentialQemuArgs(o.authorizedKey + '\n'),
    };
  } finally {
    await td.run();
  }
}
