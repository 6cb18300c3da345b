// Tier 4: the root filesystem is a composefs mount (an overlay whose metadata lower
// layer is an EROFS image and whose data comes from a digest-named object store),
// verified from inside the booted system; fs-verity as the profile says.
import type { Machine } from '../harness/src/index.js';
import { test, expect, sq } from './machine.js';

interface RootMount {
  source: string;
  fstype: string;
  options: string[];
}

async function rootMount(machine: Machine): Promise<RootMount> {
  const [source = '', fstype = '', options = ''] = (await machine.succeed('findmnt -n -r -o SOURCE,FSTYPE,OPTIONS /')).trim().split(' ');
  return { source, fstype, options: options.split(',') };
}

/** The overlay's first (uppermost) lower layer: `lowerdir=A:B` or the first `lowerdir+=A`. */
function firstLower(options: string[]): string | undefined {
  const o = options.find((x) => /^lowerdir\+?=/.test(x));
  return o?.replace(/^lowerdir\+?=/, '').split(':')[0] || undefined;
}

const describeMount = (m: RootMount) => `${m.fstype} from ${m.source} (${m.options.join(',')})`;

/** The composefs= argument of the running kernel: digest, and whether "?" waived fs-verity. */
async function cmdlineDigest(machine: Machine): Promise<{ digest: string; insecure: boolean } | undefined> {
  const arg = (await machine.succeed('cat /proc/cmdline')).split(/\s+/).find((a) => a.startsWith('composefs='));
  if (!arg) return undefined;
  const v = arg.slice('composefs='.length);
  return { digest: v.replace(/^\?/, ''), insecure: v.startsWith('?') };
}

test.describe('composefs', { tag: '@tier4' }, () => {
  test.beforeEach(({ profile }) => test.skip(profile.expect.composefs === null, 'the profile does not expect a composefs root'));

  test('composefs.root-mount', async ({ machine }) => {
    const m = await rootMount(machine);
    expect(m.source.startsWith('composefs') && m.fstype === 'overlay', `/ is not composefs: it is ${describeMount(m)}`).toBe(true);
    const missing = ['metacopy=on', 'redirect_dir=on'].filter((o) => !m.options.includes(o));
    expect(missing, `the composefs overlay lacks ${missing.join(', ')}: ${describeMount(m)}`).toEqual([]);
    test.info().annotations.push({ type: 'root', description: describeMount(m) });
  });

  test('composefs.erofs-lower', async ({ machine }) => {
    const m = await rootMount(machine);
    expect(m.fstype === 'overlay', `/ is not an overlay, so it has no EROFS lower layer: it is ${describeMount(m)}`).toBe(true);
    const lower = firstLower(m.options);
    expect(lower, `the root overlay names no lower layer: ${describeMount(m)}`).toBeTruthy();
    const mounts = (await machine.succeed('findmnt -n -r -o TARGET,FSTYPE')).trim().split('\n').map((l) => l.split(' ') as [string, string]);
    const there = mounts.find(([target]) => target === lower);
    if (there) {
      expect(there[1], `the root overlay's lower layer ${lower} is ${there[1]}, not EROFS`).toBe('erofs');
    } else {
      // The mount helper (libcomposefs, composefs-rs) mounts the EROFS image, builds the overlay
      // on it and detaches it: the overlay alone holds it then. So an EROFS superblock alive in
      // /sys/fs/erofs that no mount in mountinfo accounts for is the overlay's lower layer.
      const superblocks = (await machine.succeed('ls -1 /sys/fs/erofs 2>/dev/null || true')).split('\n').filter((n) => n && n !== 'features');
      const mounted = mounts.filter(([, type]) => type === 'erofs').length;
      expect(superblocks.length, `the root overlay's lower layer ${lower} is no longer mounted, and no EROFS filesystem is alive without a mount (EROFS superblocks: ${superblocks.join(', ') || 'none'}; EROFS mounts: ${mounted})`).toBeGreaterThan(mounted);
      test.info().annotations.push({ type: 'erofs-superblocks', description: superblocks.join(', ') });
    }
    const log = await machine.succeed("dmesg | grep -iE 'erofs.*mounted' || true");
    if (log.trim()) test.info().annotations.push({ type: 'erofs', description: log.trim().split('\n')[0]! });
  });

  test('composefs.root-readonly', async ({ machine }) => {
    const r = await machine.exec('touch /.bootc-harness-write-test');
    expect(r.exitCode, '/ must not be writable on a composefs root').not.toBe(0);
    expect(r.stderr, 'refused because the filesystem is read-only').toMatch(/Read-only file system/);
  });

  test('composefs.digest', async ({ machine, run, profile }) => {
    test.skip(run.bootc?.backend === 'ostree', 'ostree backend: no composefs= digest; the root is judged by composefs.ostree-image');
    const d = await cmdlineDigest(machine);
    expect(d, 'the kernel command line has no composefs=<digest>').toBeTruthy();
    expect(d!.digest, 'composefs= on the kernel command line is a hex digest').toMatch(/^[0-9a-f]{64}([0-9a-f]{64})?$/);
    // The installer's own record (direct: computed on the host; bootc: read off the boot entries it wrote).
    expect(run.composefsDigest, 'the installer recorded no composefs digest for this disk').toBeTruthy();
    expect(d!.digest, 'the kernel booted the image the installer wrote').toBe(run.composefsDigest);
    if (profile.expect.bootc) {
      // bootc's own view, beside the record above: the two must agree as well.
      const status = JSON.parse(await machine.succeed('bootc status --json')) as { status?: { booted?: { composefs?: { verity?: string } } } };
      expect(status.status?.booted?.composefs?.verity, 'bootc status .status.booted.composefs.verity equals the digest on the kernel command line').toBe(d!.digest);
    }
  });

  test('composefs.verity', async ({ machine, profile, run }) => {
    test.skip(run.bootc?.backend === 'ostree', 'ostree backend: fs-verity of its image is judged by composefs.ostree-image');
    const want = profile.expect.composefs?.verity;
    const d = await cmdlineDigest(machine);
    const m = await rootMount(machine);
    expect(d, `there is no composefs root to judge fs-verity on: no composefs= on the kernel command line, / is ${describeMount(m)}`).toBeTruthy();
    const enforced = !d!.insecure;
    test.info().annotations.push({ type: 'verity', description: `profile: ${want}; kernel command line ${enforced ? 'enforces' : 'waives'} fs-verity; overlay ${m.options.find((o) => o.startsWith('verity=')) ?? 'has no verity option'}` });
    if (want === 'required') {
      expect(enforced, 'fs-verity is required but composefs= carries "?" (verity not enforced)').toBe(true);
      const img = d ? `/sysroot/composefs/images/${d.digest}` : '';
      const attr = await machine.exec(`lsattr -d ${sq(img)}`);
      expect(attr.stdout.split(/\s+/)[0] ?? '', `the composefs image ${img} has no fs-verity (lsattr: ${attr.stdout.trim() || attr.stderr.trim()})`).toContain('V');
    } else if (want === 'none') {
      expect(enforced, 'the profile says no fs-verity, but the root enforces it').toBe(false);
    } else if (want === 'optional') {
      // Optional means: wherever the filesystem can hold fs-verity, every object has it.
      const objects = '/sysroot/composefs/objects';
      const flags = await machine.succeed(`find ${sq(objects)} -type f -print0 | xargs -0 -r lsattr 2>/dev/null | awk '{print $1}' | sort | uniq -c || true`);
      const counts = flags.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/) as [string, string]);
      const without = counts.filter(([, f]) => !f.includes('V')).reduce((n, [c]) => n + Number(c), 0);
      const withV = counts.filter(([, f]) => f.includes('V')).reduce((n, [c]) => n + Number(c), 0);
      const [fstype = '', source = ''] = (await machine.succeed('findmnt -n -r -o FSTYPE,SOURCE /sysroot')).trim().split(' ');
      const supports = fstype === 'ext4' ? /\bverity\b/.test((await machine.exec(`tune2fs -l ${sq(source)}`)).stdout) : fstype === 'btrfs' || withV > 0;
      test.info().annotations.push({ type: 'verity-objects', description: `${withV} with fs-verity, ${without} without, on ${fstype || 'an unknown filesystem'}${supports ? '' : ' (no fs-verity support)'}` });
      if (supports) expect(without, `${without} of ${withV + without} objects in ${objects} lack fs-verity on a ${fstype} that supports it`).toBe(0);
    }
  });

  // bootc's ostree backend: / is composefs over the booted deployment's .ostree.cfs (ostree's
  // prepare-root.conf). The installer's record (install/ostree-record.ts, read on the host from
  // the disk) names each deployment and its image's digests: the guest's image must be that one.
  test('composefs.ostree-image', async ({ machine, run }) => {
    test.skip(run.bootc?.backend !== 'ostree', 'not an ostree-backend install');
    const root = run.bootc!.ostreeRoot!;
    expect(root.expect, `the profile expects a composefs root, but the image's ${root.from ?? 'missing prepare-root.conf'} makes ostree's composefs ${root.composefs}`).not.toBeNull();
    expect(root.deployments, 'the installer recorded no ostree deployments (an encrypted root cannot be read on the host)').toBeTruthy();
    const arg = (await machine.succeed('cat /proc/cmdline')).split(/\s+/).find((a) => a.startsWith('ostree='));
    expect(arg, 'the kernel command line has no ostree= (not an ostree deployment)').toBeTruthy();
    const dir = (await machine.succeed(`readlink -f ${sq(`/sysroot${arg!.slice('ostree='.length)}`)}`)).trim();
    const booted = root.deployments!.find((d) => dir.endsWith(`/ostree/deploy/${d.stateroot}/deploy/${d.deployment}`));
    expect(booted, `the booted deployment ${dir} is none the installer wrote (${root.deployments!.map((d) => d.deployment).join(', ')})`).toBeTruthy();
    expect(booted!.composefsImage, `ostree wrote no .ostree.cfs for ${booted!.deployment} though ${root.from ?? 'prepare-root.conf'} enables composefs (${root.composefs})`).toBeTruthy();
    const sha = (await machine.succeed(`sha256sum ${sq(`${dir}/.ostree.cfs`)}`)).split(' ')[0];
    expect(sha, "the booted deployment's composefs image is the one on the installed disk").toBe(booted!.composefsImage!.sha256);
    test.info().annotations.push({ type: 'ostree-image', description: `${booted!.deployment}: .ostree.cfs sha256 ${sha}, fs-verity ${booted!.composefsImage!.fsverity}` });
    if (root.expect?.verity === 'required') {
      const attr = await machine.exec(`lsattr ${sq(`${dir}/.ostree.cfs`)}`);
      expect(attr.stdout.split(/\s+/)[0] ?? '', `prepare-root.conf requires fs-verity (${root.composefs}) but ${dir}/.ostree.cfs has none`).toContain('V');
    }
  });
});
