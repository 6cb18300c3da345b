// Tier 4: the root filesystem is a composefs mount (an overlay whose metadata lower
// layer is an EROFS image and whose data comes from a digest-named object store),
// verified from inside the booted system; fs-verity as the profile says.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareTreesScript,
  ext4Features,
  firstLower,
  fsverityDigest,
  LIST_EROFS_SUPERBLOCKS,
  lowerCandidates,
  lowerMismatch,
  parseErofsSuperblocks,
  parseTreeComparison,
  verityObjectsVerdict,
  type Machine,
} from '../harness/src/index.js';
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

const describeMount = (m: RootMount) => `${m.fstype} from ${m.source} (${m.options.join(',')})`;

/** The composefs= argument of the running kernel: digest, and whether "?" waived fs-verity. */
async function cmdlineDigest(machine: Machine): Promise<{ digest: string; insecure: boolean } | undefined> {
  const arg = (await machine.succeed('cat /proc/cmdline')).split(/\s+/).find((a) => a.startsWith('composefs='));
  if (!arg) return undefined;
  const v = arg.slice('composefs='.length);
  return { digest: v.replace(/^\?/, ''), insecure: v.startsWith('?') };
}

/** Every mount point in the guest (findmnt -r escapes a space as \x20). */
async function mountTargets(machine: Machine): Promise<string[]> {
  return (await machine.succeed('findmnt -rn -o TARGET'))
    .split('\n')
    .filter(Boolean)
    .map((t) => t.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
}

interface RootLower {
  /** The EROFS image file whose tree is /'s, when one is. */
  image?: string;
  /** Why each candidate is not /'s lower layer. */
  rejected: string[];
}

const lowerByBoot = new Map<string, RootLower>();

/**
 * The EROFS image that backs /'s lower layer: the candidate (a loop device's backing file, else
 * the digest's image in the composefs repository) whose tree, mounted on its own, is /'s. The
 * mount helper detached the EROFS mount, so its content is the only tie left; asked once a boot.
 */
async function rootLower(machine: Machine, digest: string | undefined): Promise<RootLower> {
  const known = lowerByBoot.get(machine.bootId);
  if (known) return known;
  const candidates = lowerCandidates(parseErofsSuperblocks(await machine.succeed(LIST_EROFS_SUPERBLOCKS)), digest);
  const targets = await mountTargets(machine);
  const found: RootLower = { rejected: [] };
  for (const image of candidates) {
    const r = await machine.exec(compareTreesScript(image, targets), 300_000);
    const c = parseTreeComparison(r.stdout);
    const why = c ? lowerMismatch(image, c) : `${image} could not be mounted as EROFS and compared (exit ${r.exitCode}): ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join('; ')}`;
    if (!why) {
      found.image = image;
      test.info().annotations.push({ type: 'lower-tree', description: `${image}: ${c!.rootEntries} entries, the same in / and in the image` });
      break;
    }
    found.rejected.push(why);
  }
  if (candidates.length === 0) found.rejected.push('no candidate: no loop-backed EROFS and no composefs= digest naming an image');
  lowerByBoot.set(machine.bootId, found);
  return found;
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
      return;
    }
    // Detached by the mount helper: only the EROFS image whose own tree is /'s is its lower layer
    // (any other EROFS alive in the kernel is not).
    const found = await rootLower(machine, (await cmdlineDigest(machine))?.digest);
    expect(found.image, `no EROFS image is the lower layer of / (${lower} is no longer mounted):\n${found.rejected.join('\n')}`).toBeTruthy();
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
    // The EROFS under / is that image: its fs-verity digest, measured on the host from its bytes
    // (a composefs digest is the fs-verity digest of the image file), is the installer's record.
    const found = await rootLower(machine, d!.digest);
    expect(found.image, `no EROFS image is the lower layer of /:\n${found.rejected.join('\n')}`).toBeTruthy();
    const dir = mkdtempSync(join(run.workDir, 'erofs-'));
    try {
      const copy = join(dir, 'image');
      const bytes = await machine.copyFile(found.image!, copy, 1024 * 1024 * 1024);
      const measured = await fsverityDigest(copy);
      test.info().annotations.push({ type: 'erofs-measured', description: `${found.image}: ${bytes} bytes, fs-verity sha256 ${measured}` });
      expect(measured, `the fs-verity digest of ${found.image}, the EROFS under /, is the installer's record`).toBe(run.composefsDigest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      expect(attr.exitCode, `lsattr -d ${img} failed: ${attr.stderr.trim()}`).toBe(0);
      expect(attr.stdout.split(/\s+/)[0] ?? '', `the composefs image ${img} has no fs-verity (lsattr: ${attr.stdout.trim() || attr.stderr.trim()})`).toContain('V');
    } else if (want === 'none') {
      // Nothing is expected, so nothing passes: contradicted (the root enforces it) fails, else skipped.
      expect(enforced, 'the profile says no fs-verity, but the root enforces it').toBe(false);
      test.skip(true, 'the profile expects no fs-verity (verity: none) and composefs= waives it: nothing to assert');
    } else if (want === 'optional') {
      // Optional means: wherever the filesystem can hold fs-verity, every object has it.
      const objects = '/sysroot/composefs/objects';
      const dir = await machine.exec(`test -d ${sq(objects)}`);
      expect(dir.exitCode, `${objects} is missing: a composefs root keeps its file contents there`).toBe(0);
      const listing = await machine.exec(`find ${sq(objects)} -type f -exec lsattr {} +`, 300_000);
      const [fstype = '', source = ''] = (await machine.succeed('findmnt -n -r -o FSTYPE,SOURCE --target /sysroot')).trim().split(' ');
      let features = '';
      if (fstype === 'ext4') {
        const t = await machine.exec(`tune2fs -l ${sq(source)}`);
        expect(t.exitCode, `tune2fs -l ${source} failed: ${t.stderr.trim()}`).toBe(0);
        features = ext4Features(t.stdout);
      }
      const v = verityObjectsVerdict(objects, listing, fstype, features);
      test.info().annotations.push({ type: 'verity-objects', description: `${v.withVerity} with fs-verity, ${v.without.length} without, on ${fstype || 'an unknown filesystem'} (${features || 'no features read'})` });
      expect(v.problems, 'fs-verity on the composefs objects').toEqual([]);
      test.skip(v.skip !== undefined, v.skip ?? '');
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
