// Pure: the checks the image's own files answer before anything is installed or booted
// (tier "pre"): the profile's SUID/SGID and capability paths (from the image's manifest),
// its expected units enabled, a ZFS module built for the image's kernel, the kernel's
// compat tier. Each anticipates a tier-1 or tier-2 check in the guest; failing one here
// saves an install and a boot.
import { AssertionFailure } from '../errors.js';
import { kernelTierOf, type Profile } from '../profile/profile.js';
import type { TestRecord } from '../report/summary.js';
import type { Manifest } from '../image/manifest.js';

export interface ImageFacts {
  manifest: Manifest;
  kernelRelease?: string;
  /** Units the image enables: linked into a .wants/.requires directory, aliased, or enabled by a preset. */
  enabledUnits: ReadonlySet<string>;
  /** vermagic of the image's zfs module for its kernel; undefined when there is no such module. */
  zfsVermagic?: string;
}

const isSetId = (mode: string | undefined) => mode !== undefined && (parseInt(mode, 8) & 0o6000) !== 0;

function record(id: string, failures: string[], skip?: string): TestRecord {
  if (skip) return { id, tier: 'pre', status: 'skipped', annotations: [{ type: 'skip', description: skip }] };
  return failures.length ? { id, tier: 'pre', status: 'failed', error: failures.join('\n') } : { id, tier: 'pre', status: 'passed' };
}

export function preChecks(profile: Profile, f: ImageFacts): TestRecord[] {
  const special = new Map(f.manifest.special.map((e) => [e.path, e]));
  const out: TestRecord[] = [];
  const suid = profile.expect.suid;
  out.push(
    record(
      'pre.setid',
      suid.filter((p) => !isSetId(special.get(p)?.mode)).map((p) => `${p}: not SUID/SGID in the image (${special.has(p) ? `mode ${special.get(p)!.mode}` : 'no SUID/SGID entry in its manifest'}); the profile requires it`),
      suid.length ? undefined : 'the profile requires no SUID/SGID files',
    ),
  );
  const caps = Object.entries(profile.expect.caps);
  out.push(
    record(
      'pre.capabilities',
      caps.filter(([p, c]) => special.get(p)?.caps !== c).map(([p, c]) => `${p}: the image has ${special.get(p)?.caps ?? 'no capabilities'}, the profile requires ${c}`),
      caps.length ? undefined : 'the profile requires no file capabilities',
    ),
  );
  const units = profile.expect.enabledUnits;
  out.push(
    record(
      'pre.enabled-units',
      units.filter((u) => !f.enabledUnits.has(u)).map((u) => `${u} is not enabled in the image (no .wants/.requires link, alias or preset enables it)`),
      units.length ? undefined : 'the profile expects no enabled units',
    ),
  );
  const tier = profile.kernel.tier;
  out.push(
    record(
      'pre.kernel-tier',
      !f.kernelRelease ? ['the image has no kernel'] : kernelTierOf(f.kernelRelease) !== tier ? [`the image's kernel ${f.kernelRelease} is in compat tier ${kernelTierOf(f.kernelRelease)}, the profile expects ${tier}`] : [],
      tier ? undefined : 'the profile expects no kernel tier',
    ),
  );
  const vermagic = f.zfsVermagic;
  out.push(
    record(
      'pre.zfs-module',
      vermagic === undefined
        ? [`no zfs module for the image's kernel ${f.kernelRelease ?? '(none)'} (lib/modules/${f.kernelRelease ?? '?'}/**/zfs.ko*)`]
        : vermagic.split(' ')[0] !== f.kernelRelease
          ? [`the zfs module was built for ${vermagic.split(' ')[0]}, the image's kernel is ${f.kernelRelease}`]
          : [],
      profile.expect.zfs ? undefined : 'the profile does not expect ZFS',
    ),
  );
  return out;
}

/** The pre checks of a probed image, handed to `record` whatever they say; any failure is the run's (exit 1). */
export function checkBeforeBoot(profile: Profile, manifest: Manifest, probe: Omit<ImageFacts, 'manifest'>, record: (tests: TestRecord[]) => void): void {
  const tests = preChecks(profile, { manifest, ...probe });
  record(tests);
  const failed = tests.filter((t) => t.status === 'failed');
  if (failed.length) throw new AssertionFailure('pre', `before install, the image's own files fail ${failed.map((t) => t.id).join(', ')}:\n${failed.map((t) => t.error).join('\n')}`);
}
