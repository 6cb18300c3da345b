// Everything the user can get wrong, checked before anything starts: one line, exit 2.
import { existsSync, statfsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { imageId, imageLabels } from '../image/buildah.js';
import { checkSource, parseSource, type Source } from '../image/source.js';
import { isFileInRoot } from '../image/in-root.js';
import { findVirtiofsd } from '../vm/virtiofsd.js';
import { listProfiles, loadProfile, DEFAULT_PROFILE, type Profile } from '../profile/profile.js';
import { chooseProfile, rootfsImageId, type ProfileChoice, type SourceFacts } from './choose-profile.js';
import { cacheDir, ensureWorkRoot, workDir as workRoot } from '../util/paths.js';
import { requireTools } from '../util/tools.js';
import { kvmRefusal } from '../vm/accel.js';
import { hostReady } from '../host/doctor.js';
import { ALL_TIERS, type TestInstallOptions } from './options.js';
import { luksOf } from './plan.js';

const BASE_TOOLS = ['buildah', 'qemu-system-x86_64', 'qemu-img', 'swtpm', 'mke2fs', 'mkfs.vfat', 'mcopy', 'mmd', 'sfdisk', 'getfattr', 'getcap', 'bwrap'];

/** Everything the user can get wrong, checked before anything starts (exit 2). */
export async function validateInput(opts: TestInstallOptions): Promise<{ source: Source; profile: Profile; profileReason: string }> {
  for (const t of opts.tiers) if (!ALL_TIERS.includes(t as (typeof ALL_TIERS)[number])) throw new UsageError(`unknown tier ${t} (tiers are ${ALL_TIERS.join(', ')})`);
  let source: Source;
  let choice: ProfileChoice;
  if (opts.source) {
    source = parseSource(opts.source);
    await checkSource(source);
    choice = opts.profile ? { name: opts.profile, reason: opts.profileReason ?? 'asked for with --profile' } : chooseProfile(source, await sourceFacts(source), await listProfiles());
  } else {
    choice = opts.profile ? { name: opts.profile, reason: opts.profileReason ?? 'asked for with --profile' } : { name: DEFAULT_PROFILE, reason: 'no SOURCE: the default fixture and its profile' };
  }
  const profile = await loadProfile(choice.name);
  if (!opts.source) {
    source = 'fixture' in profile.source ? { kind: 'fixture', name: profile.source.fixture } : parseSource(profile.source.image);
  }
  source = source!;
  await checkSource(source);
  if (source.kind === 'containers-storage' && !(await imageId(source.ref))) throw new UsageError(`containers-storage: no image ${source.ref}`);
  if (opts.freshTpm && luksOf(opts, profile) !== 'tpm2') {
    throw new UsageError('--fresh-tpm only means something with a TPM2-sealed root (--luks tpm2, or a profile expecting luks.tpm2)');
  }
  if (opts.placement === 'vm' && opts.installer !== 'bootc' && luksOf(opts, profile) !== 'tpm2') {
    throw new UsageError('--placement vm: only a TPM2-sealed root (--luks tpm2) or the bootc installer has a step to run in the installer VM');
  }
  if (source.kind === 'dir' && !(await isFileInRoot(source.path, '/usr/bin/bootc'))) {
    if (opts.installer === 'bootc') throw new UsageError(`--installer bootc: ${source.path} has no /usr/bin/bootc`);
    if (opts.installer === 'auto' && profile.installer === 'bootc') {
      throw new UsageError(`profile ${profile.name} (${choice.reason}) installs with bootc, but ${source.path} has no /usr/bin/bootc: pass --profile or --installer direct`);
    }
  }
  if (opts.placement === 'vm') findVirtiofsd();
  if (opts.accel === 'kvm') {
    const why = await kvmRefusal();
    if (why) throw new UsageError(`--accel kvm: KVM does not run guests here (${why}); use --accel auto or tcg`);
  }
  // The pre check of a ZFS module reads its vermagic with the host's modinfo.
  if (profile.expect.zfs && opts.pre !== false) requireTools(['modinfo']);
  // The host, before anything starts: a problem there ends the run with doctor's line (exit 3).
  await hostReady([...BASE_TOOLS, ...(source.kind === 'fixture' ? ['mmdebstrap', 'setcap'] : []), ...(source.kind === 'oci' || source.kind === 'oci-archive' || source.kind === 'registry' ? ['skopeo'] : [])]);
  const free = (() => {
    const root = ensureWorkRoot();
    cacheDir(); // created 0700, or refused here when someone else could rewrite its records
    const s = statfsSync(root);
    return s.bavail * s.bsize;
  })();
  const needed = profile.vm.diskGiB * 2 ** 30 + 2 * 2 ** 30;
  if (free < needed) throw new UsageError(`not enough disk space in ${workRoot()}: ${(free / 2 ** 30).toFixed(1)} GiB free, ${(needed / 2 ** 30).toFixed(1)} GiB needed`);
  return { source, profile, profileReason: choice.reason };
}

/** What a source says about itself before it is packaged: its labels (images), its os-release IMAGE_ID (rootfs dirs). */
async function sourceFacts(source: Source): Promise<SourceFacts> {
  if (source.kind === 'dir') return { imageId: await rootfsImageId(source.path) };
  if (source.kind === 'containers-storage' && (await imageId(source.ref))) return { labels: await imageLabels(source.ref) };
  return {};
}
