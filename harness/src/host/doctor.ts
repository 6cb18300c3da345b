// `doctor`: what a run needs of this host, checked one line each: what was found and, when
// it fails, the fix. `test-install` runs the cheap part (hostReady) before its fixture stage,
// so a host problem ends a run at once with the same line (exit 3), not deep inside a stage.
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { findMkcomposefs } from '../install/composefs-layout.js';
import type { Profile } from '../profile/profile.js';
import { run } from '../util/exec.js';
import { cacheDir, ensureWorkRoot, workDir } from '../util/paths.js';
import { TOOL_PACKAGES, which } from '../util/tools.js';
import { kvmState } from '../vm/accel.js';
import { hostHasVsock, OVMF_CODE_CANDIDATES } from '../vm/qemu-args.js';
import { Swtpm } from '../vm/swtpm.js';
import { findVirtiofsd } from '../vm/virtiofsd.js';
import { READER_UNSANDBOXED, rootReaderHasCapability } from '../util/sandbox.js';
import { accessOf, expandIncludes, loadedProfiles, parseProfiles, profileFor, variablesOf, type AaProfile } from './apparmor.js';
import { domainsEntering, selinuxMode, typeOfContext } from './selinux.js';

export type Status = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  status: Status;
  found: string;
  fix?: string;
}

const TAG: Record<Status, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** Pure: one line of the doctor's answer (also what test-install stops with). */
export function findingLine(f: Finding): string {
  return `${TAG[f.status]} ${f.check}: ${f.found}${f.fix ? `; fix: ${f.fix}` : ''}`;
}

const ok = (check: string, found: string): Finding => ({ check, status: 'ok', found });
const warn = (check: string, found: string, fix?: string): Finding => ({ check, status: 'warn', found, ...(fix ? { fix } : {}) });
const fail = (check: string, found: string, fix: string): Finding => ({ check, status: 'fail', found, fix });

/** Pure: "1.2.3" compared with "1.2": negative when older. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

interface ToolSpec {
  check: string;
  /** The command the harness runs. */
  bin: string;
  /** The path, or undefined when missing. */
  find: () => string | undefined;
  pkg: string;
  /** Needed by every run (fail when missing) or only by some (warn, with who needs it). */
  neededBy?: string;
  version?: { args: string[]; re: RegExp; min?: string; why?: string };
}

const finder = (name: string) => () => which(name);
const orUndefined = (f: () => string) => () => {
  try {
    return f();
  } catch {
    return undefined;
  }
};
const V = /(\d+\.\d+(?:\.\d+)?)/;

/** What the harness drives, with the package that has it and, where it matters, the version it needs. */
export const TOOLS: ToolSpec[] = [
  // bookworm's QEMU 7.2 crashes guest kernels under multi-threaded TCG (setup-host.sh takes 10.x
  // from backports there); Ubuntu 24.04 has 8.2 (runner-images' Ubuntu2404-Readme).
  { check: 'tool qemu', bin: 'qemu-system-x86_64', find: finder('qemu-system-x86_64'), pkg: 'qemu-system-x86', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/, min: '8.2', why: "7.2 crashes guest kernels under multi-threaded TCG" } },
  { check: 'tool qemu-img', bin: 'qemu-img', find: finder('qemu-img'), pkg: 'qemu-utils', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/ } },
  { check: 'tool swtpm', bin: 'swtpm', find: finder('swtpm'), pkg: 'swtpm', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/ } },
  { check: 'tool buildah', bin: 'buildah', find: finder('buildah'), pkg: 'buildah', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/ } },
  { check: 'tool mtools', bin: 'mcopy', find: finder('mcopy'), pkg: 'mtools', version: { args: ['--version'], re: V } },
  { check: 'tool sfdisk', bin: 'sfdisk', find: finder('sfdisk'), pkg: 'fdisk', version: { args: ['--version'], re: V } },
  { check: 'tool mke2fs', bin: 'mke2fs', find: finder('mke2fs'), pkg: 'e2fsprogs' },
  { check: 'tool mkfs.vfat', bin: 'mkfs.vfat', find: finder('mkfs.vfat'), pkg: 'dosfstools' },
  { check: 'tool getfattr', bin: 'getfattr', find: finder('getfattr'), pkg: 'attr' },
  { check: 'tool getcap', bin: 'getcap', find: finder('getcap'), pkg: 'libcap2-bin' },
  // Every run: the image's tree is read (getfattr, getcap, mke2fs -d) and its data parsed in bwrap.
  { check: 'tool bwrap', bin: 'bwrap', find: finder('bwrap'), pkg: 'bubblewrap', version: { args: ['--version'], re: V } },
  { check: 'tool mmdebstrap', bin: 'mmdebstrap', find: finder('mmdebstrap'), pkg: 'mmdebstrap', neededBy: 'building the fixtures', version: { args: ['--version'], re: V } },
  { check: 'tool skopeo', bin: 'skopeo', find: finder('skopeo'), pkg: 'skopeo', neededBy: 'oci, oci-archive and registry sources', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/ } },
  { check: 'tool podman', bin: 'podman', find: finder('podman'), pkg: 'podman', neededBy: 'the bootc installer placed on the host (--placement host)', version: { args: ['--version'], re: /version (\d+\.\d+\.\d+)/ } },
  { check: 'tool virtiofsd', bin: 'virtiofsd', find: orUndefined(findVirtiofsd), pkg: 'virtiofsd (on Debian 12: just setup)', neededBy: 'the installer VM (--placement vm)', version: { args: ['--version'], re: V } },
  { check: 'tool mkcomposefs', bin: 'mkcomposefs', find: orUndefined(findMkcomposefs), pkg: 'composefs (where the release has none: just setup)', neededBy: 'composefs roots (tier 4) installed by the direct installer' },
  { check: 'tool cryptsetup', bin: 'cryptsetup', find: finder('cryptsetup'), pkg: 'cryptsetup-bin', neededBy: 'LUKS roots (tier 3)', version: { args: ['--version'], re: V } },
  { check: 'tool passt', bin: 'passt', find: finder('passt'), pkg: 'passt', neededBy: 'profiles that opt into outbound NAT (vm.network "outbound")' },
];

async function toolFinding(t: ToolSpec, required: boolean): Promise<Finding> {
  const path = t.find();
  if (!path) {
    const why = t.neededBy ? ` (needed for ${t.neededBy})` : '';
    return required ? fail(t.check, `not found${why}`, `install ${t.pkg}, or run: just setup`) : warn(t.check, `not found${why}`, `install ${t.pkg}`);
  }
  if (!t.version) return ok(t.check, path);
  const r = await run([path, ...t.version.args], { stage: 'input', timeoutMs: 10_000 }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
  const v = t.version.re.exec(`${r.stdout}\n${r.stderr}`)?.[1];
  if (!v) return (required ? fail : warn)(t.check, `${path} does not run or print a version: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`, `reinstall ${t.pkg}`);
  if (t.version.min && compareVersions(v, t.version.min) < 0) return fail(t.check, `${path} ${v}, needs >= ${t.version.min} (${t.version.why})`, `install a newer ${t.pkg} (just setup)`);
  return ok(t.check, `${path} ${v}${t.version.min ? ` (needs >= ${t.version.min})` : ''}`);
}

function ovmfFinding(): Finding {
  const found = OVMF_CODE_CANDIDATES.find((p) => existsSync(p));
  return found ? ok('uefi firmware', found) : fail('uefi firmware', `none of ${OVMF_CODE_CANDIDATES.join(', ')}`, 'install ovmf');
}

/** Pure: whether `version` is in an engines range of `^X.Y.Z` and `>=X.Y.Z` alternatives (`||`). */
export function inEngines(version: string, range: string): boolean {
  return range.split('||').some((alt) => {
    const m = /^\s*(\^|>=)\s*(\d+(?:\.\d+)*)\s*$/.exec(alt);
    if (!m) return false;
    const atLeast = compareVersions(version, m[2]!) >= 0;
    return m[1] === '>=' ? atLeast : atLeast && version.split('.')[0] === m[2]!.split('.')[0];
  });
}

function nodeFinding(): Finding {
  const v = process.versions.node;
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines?: { node?: string } };
  const range = pkg.engines?.node ?? '>=20';
  return inEngines(v, range) ? ok('node', `${v} (package.json engines: node ${range})`) : fail('node', `${v}, package.json needs node ${range}`, `install a Node that ${range} allows (the workflow uses 24)`);
}

/** Kernels of built fixtures, to probe KVM with where the host has none in /boot (a container). */
function fixtureKernels(): string[] {
  const dir = join(cacheDir(), 'fixtures');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const boot = join(dir, f, 'rootfs', 'boot');
    return existsSync(boot) ? readdirSync(boot).filter((n) => n.startsWith('vmlinuz-')).map((n) => join(boot, n)) : [];
  });
}

async function kvmFinding(): Promise<Finding> {
  const k = await kvmState(fixtureKernels());
  if (k.works) return ok('kvm', k.reason);
  if (k.works === undefined) return warn('kvm', `${k.reason}; if it does not work, guests run under TCG`);
  const consequence = 'guests run under TCG (software emulation: a boot to SSH takes minutes, not seconds); --accel kvm is refused';
  return warn('kvm', `does not work: ${k.reason}; ${consequence}`, 'load kvm_intel/kvm_amd and let this user open /dev/kvm (group kvm), or run on a host with nested virtualization');
}

function vsockFinding(): Finding {
  if (hostHasVsock(existsSync)) return ok('vsock', '/dev/vhost-vsock present: guests get a vsock device');
  return warn('vsock', 'no /dev/vhost-vsock: guests get no vsock device (checks over vsock are skipped)', 'modprobe vhost_vsock');
}

async function loopFinding(): Promise<Finding> {
  if (!existsSync('/dev/loop-control')) return warn('loop devices', 'no /dev/loop-control: bootc install --via-loopback (--placement host) cannot run', 'modprobe loop');
  const r = await run(['losetup', '--find'], { stage: 'input', timeoutMs: 10_000 }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
  if (r.exitCode === 0 && r.stdout.trim()) return ok('loop devices', `free: ${r.stdout.trim()}`);
  return warn('loop devices', `none free (${r.stderr.trim() || `losetup exited ${r.exitCode}`}): bootc install --via-loopback (--placement host) cannot run`, 'losetup --detach-all of unused ones, or run as root');
}

/** Pure: the mount (point, per-mount and superblock options) that holds `path`, from /proc/self/mountinfo. */
export function mountOf(mountinfo: string, path: string): { point: string; options: string[] } | undefined {
  let best: { point: string; options: string[] } | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 10) continue;
    const point = f[4]!.replace(/\\040/g, ' ');
    const inside = point === '/' || path === point || path.startsWith(point + '/');
    if (!inside || (best && best.point.length > point.length)) continue;
    const dash = f.indexOf('-');
    best = { point, options: [...f[5]!.split(','), ...(dash > 0 ? (f[dash + 3] ?? '').split(',') : [])] };
  }
  return best;
}

/** The work root: ours, on a mount we can write and execute from, and writable in fact. */
function workRootFinding(): Finding {
  let root: string;
  try {
    root = ensureWorkRoot();
  } catch (e) {
    return fail('work root', (e as Error).message, 'set BOOTC_HARNESS_WORK to a directory of ours, mode 0700');
  }
  const real = realpathSync(root);
  const m = mountOf(readFileSync('/proc/self/mountinfo', 'utf8'), real);
  const opts = m?.options ?? [];
  const fix = 'set BOOTC_HARNESS_WORK to a directory on a writable mount without noexec (or remount it)';
  if (opts.includes('ro')) return fail('work root', `${root} is on a read-only mount (${m!.point}): run directories, disks and the TPM's state cannot be written there`, fix);
  if (opts.includes('noexec')) return fail('work root', `${root} is on a noexec mount (${m!.point}): its bind mounts into the bootc installer's container inherit noexec`, fix);
  try {
    const probe = join(root, `.doctor-write-${process.pid}`);
    writeFileSync(probe, 'x');
    rmSync(probe, { force: true });
  } catch (e) {
    return fail('work root', `${root}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, fix);
  }
  return ok('work root', `${root} on ${m?.point ?? '?'} (${[...new Set(opts.filter((o) => /^(rw|ro|noexec|nosuid|nodev)$/.test(o)))].join(',')})`);
}

/** Pure: GiB with one decimal. */
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function spaceFinding(check: string, dir: string, needBytes: number, forWhat: string): Finding {
  let at = dir;
  while (!existsSync(at)) at = join(at, '..');
  const s = statfsSync(at);
  const free = s.bavail * s.bsize;
  const found = `${dir}: ${gib(free)} free, ${forWhat} need ${gib(needBytes)}`;
  return free >= needBytes ? ok(check, found) : fail(check, found, `free space under ${at} or point ${check === 'space work' ? 'BOOTC_HARNESS_WORK' : 'BOOTC_HARNESS_CACHE'} elsewhere`);
}

/** What runs of these profiles need: a disk and its overlay in the work root; disks, fixtures and images in the cache. */
export function spaceNeeded(profiles: readonly Pick<Profile, 'vm' | 'source'>[]): { work: number; cache: number } {
  const G = 2 ** 30;
  // The work root holds one run's disk (as big as the profile's) and overlays at once; the cache keeps every
  // row's disk, and a fixture's rootfs and image (about 2 GiB each for the self-test fixtures) or a pulled image.
  return {
    work: Math.max(0, ...profiles.map((p) => p.vm.diskGiB)) * G + 2 * G,
    cache: profiles.reduce((s, p) => s + p.vm.diskGiB * G + ('fixture' in p.source ? 4 : 6) * G, 0),
  };
}

// ---- confinement ----------------------------------------------------------------------

const AA_DIR = '/etc/apparmor.d';

function readAaInclude(name: string): string | undefined {
  const p = name.startsWith('/') ? name : join(AA_DIR, name);
  try {
    const st = statSync(p);
    if (st.isDirectory()) return readdirSync(p).sort().map((f) => readAaInclude(join(p, f)) ?? '').join('\n');
    return st.isFile() && st.size < 1 << 20 ? readFileSync(p, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

function readOrUndefined(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** The profiles on disk (top-level files of /etc/apparmor.d, includes expanded) and their variables. */
function profilesOnDisk(): { profiles: AaProfile[]; vars: Map<string, string[]> } {
  const disabled = new Set(existsSync(join(AA_DIR, 'disable')) ? readdirSync(join(AA_DIR, 'disable')) : []);
  const texts = (existsSync(AA_DIR) ? readdirSync(AA_DIR) : [])
    .filter((f) => !disabled.has(f))
    .map((f) => join(AA_DIR, f))
    .filter((p) => statSync(p).isFile())
    .map((p) => expandIncludes(readOrUndefined(p) ?? '', readAaInclude));
  const all = texts.join('\n');
  return { profiles: parseProfiles(all), vars: variablesOf(all) };
}

/** A sample of the paths each confined tool opens in a run, with the access it needs there. */
export function pathsUsed(work: string, cache: string): Record<'swtpm' | 'qemu' | 'virtiofsd', { path: string; perms: string }[]> {
  const run = join(work, '20260101-000000-doctor-abcd');
  return {
    swtpm: [
      { path: join(run, 'tpm', 'tpm2-00.permall'), perms: 'rwk' },
      { path: join(run, 'tpm.sock'), perms: 'rw' },
    ],
    qemu: [
      { path: join(run, 'boot-1.qcow2'), perms: 'rwk' },
      { path: join(run, 'qmp.sock'), perms: 'rw' },
      { path: join(cache, 'disks', 'x', 'disk.qcow2'), perms: 'r' },
    ],
    // Its socket, and the image's root it shares: buildah's mount in containers-storage.
    virtiofsd: [
      { path: join(run, 'vfs.sock'), perms: 'rw' },
      { path: '/var/lib/containers/storage/overlay/x/merged/usr/bin/bootc', perms: 'r' },
    ],
  };
}

/** Pure: one tool's AppArmor finding, from the profile attached to it, its loaded mode and the paths it will use. */
export function apparmorFinding(tool: string, binary: string, profile: AaProfile | undefined, mode: string | undefined, vars: Map<string, string[]>, paths: { path: string; perms: string }[]): Finding {
  const check = `apparmor ${tool}`;
  if (!profile) return ok(check, `no profile attaches to ${binary}: not confined`);
  if (!mode) return ok(check, `profile ${profile.name} is on disk but not loaded: not confined`);
  if (mode === 'unconfined' || profile.flags.includes('unconfined')) return ok(check, `profile ${profile.name} (${mode}) is unconfined`);
  const denied = paths.map((p) => ({ ...p, a: accessOf(profile, p.path, p.perms, vars) })).filter((p) => !p.a.allowed);
  if (!denied.length) return ok(check, `profile ${profile.name} (${mode}) allows ${paths.map((p) => `${p.perms} ${p.path}`).join(', ')}`);
  const what = denied.map((d) => `${d.a.missing} on ${d.path}`).join(', ');
  const local = `/etc/apparmor.d/local/${profile.attach ? profile.attach.replace(/^\//, '').replace(/\//g, '.') : profile.name}`;
  const rule = `owner ${denied[0]!.path.split('/').slice(0, -2).join('/')}/** rwk,`;
  if (mode === 'complain') return warn(check, `profile ${profile.name} (complain) would deny ${what}: logged, not enforced`);
  return fail(check, `profile ${profile.name} (${mode}) denies ${what}`, `just setup (adds "${rule}" to ${local} and reloads it), or set BOOTC_HARNESS_WORK under a path it allows`);
}

// swtpm's SELinux policy (stefanberger/swtpm src/selinux/swtpm_svirt.te): the domains that enter swtpm_t.
export const SWTPM_SELINUX_ENTRY = ['svirt_t', 'svirt_tcg_t'];

async function confinementFindings(work: string, cache: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const enabled = readOrUndefined('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y';
  const loadedText = readOrUndefined('/sys/kernel/security/apparmor/profiles');
  const binaries = { swtpm: which('swtpm'), qemu: which('qemu-system-x86_64'), virtiofsd: orUndefined(findVirtiofsd)() };
  if (!enabled) out.push(ok('apparmor', 'not enabled in this kernel: swtpm, QEMU and virtiofsd are not confined by it'));
  else {
    const loaded = loadedProfiles(loadedText ?? '');
    const { profiles, vars } = profilesOnDisk();
    const used = pathsUsed(work, cache);
    out.push(ok('apparmor', `enabled: ${loaded.size} profiles loaded${loadedText === undefined ? ' (list not readable: run as root to see them)' : ''}`));
    for (const [tool, bin] of Object.entries(binaries) as [keyof typeof used, string | undefined][]) {
      if (!bin) continue;
      const real = realpathSync(bin);
      const p = profileFor(profiles, real, vars);
      out.push(apparmorFinding(tool, real, p, p ? loaded.get(p.name) : undefined, vars, used[tool]));
    }
  }
  const mode = selinuxMode(readOrUndefined('/sys/fs/selinux/enforce'));
  if (mode === 'disabled') out.push(ok('selinux', 'not enabled: nothing confined by it'));
  else {
    const ours = typeOfContext(readOrUndefined('/proc/self/attr/current') ?? '') ?? 'unknown';
    const entered = SWTPM_SELINUX_ENTRY.includes(ours);
    out.push(
      entered && mode === 'enforcing'
        ? warn('selinux', `${mode}; we run as ${ours}, which swtpm's policy moves into swtpm_t (allowed only libvirt's directories)`, 'run the harness from an unconfined domain')
        : ok('selinux', `${mode}; we run as ${ours}: swtpm, QEMU and virtiofsd started by us stay in it (swtpm_t is entered only from ${SWTPM_SELINUX_ENTRY.join(', ')})`),
    );
  }
  return out;
}

/** Tried, not inferred: can the tools that read the whole image tree keep their one capability in bwrap? */
async function readerSandboxFinding(): Promise<Finding> {
  if (!which('bwrap')) return warn('sandbox tree readers', 'no bwrap: see tool bwrap');
  try {
    return (await rootReaderHasCapability())
      ? ok('sandbox tree readers', 'getfattr, getcap, mke2fs -d and mkcomposefs read the image in bwrap with CAP_DAC_READ_SEARCH alone (tried)')
      : warn('sandbox tree readers', READER_UNSANDBOXED);
  } catch (e) {
    return warn('sandbox tree readers', `the probe failed: ${(e as Error).message}`);
  }
}

// ---- swtpm in the work root, tried ----------------------------------------------------------

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** What a probe killed mid-way (SIGKILL) left: its directory, and the swtpm serving from it. */
function reapStaleProbes(root: string): void {
  const stale = readdirSync(root).filter((n) => /^\.doctor-swtpm-(\d+)-/.test(n) && !alive(Number(/^\.doctor-swtpm-(\d+)-/.exec(n)![1])));
  if (!stale.length) return;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const cmd = readOrUndefined(`/proc/${pid}/cmdline`)?.split('\0') ?? [];
    if (cmd[0]?.endsWith('swtpm') && stale.some((n) => cmd.some((a) => a.includes(join(root, n) + '/')))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
  for (const n of stale) rmSync(join(root, n), { recursive: true, force: true });
}

/** Starts swtpm with its state and socket in the work root, as a run does; stops it; leaves nothing. */
export async function swtpmFinding(): Promise<Finding> {
  const check = 'swtpm socket';
  if (!which('swtpm')) return fail(check, 'swtpm not found', 'install swtpm');
  let root: string;
  try {
    root = ensureWorkRoot();
  } catch (e) {
    return fail(check, (e as Error).message, 'set BOOTC_HARNESS_WORK to a directory of ours');
  }
  reapStaleProbes(root);
  let dir: string;
  try {
    dir = mkdtempSync(join(root, `.doctor-swtpm-${process.pid}-`));
  } catch (e) {
    return fail(check, `cannot make a directory in ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'see "work root"');
  }
  try {
    // Its own deadline (startDaemon races the socket against 5 s and swtpm exiting); not cut short
    // by Ctrl-C, so that the swtpm it starts is always stopped here.
    const tpm = await Swtpm.start(join(dir, 'tpm'), join(dir, 'tpm.sock'), 5_000);
    await tpm.dispose();
    return ok(check, `swtpm created its state and socket in ${root}`);
  } catch (e) {
    // Swtpm.start has added swtpm's log and the kernel's denial, if any.
    const why = (e as Error).message.replace(/^\[\w+\] /, '');
    return fail(check, `swtpm could not start with its socket in ${root}: ${why}`, /apparmor="DENIED"/.test(why) ? 'just setup (the AppArmor rule for the work root), or set BOOTC_HARNESS_WORK under a path the profile allows' : 'see its log and message; or set BOOTC_HARNESS_WORK to a short path on a local filesystem');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the whole answer ----------------------------------------------------------------------

export interface DoctorOptions {
  /** The profiles the user means to run (free space, which tools); default: the default profile. */
  profiles: Profile[];
}

/** Every check, in order. */
export async function doctor(o: DoctorOptions): Promise<Finding[]> {
  const work = workDir();
  const cache = cacheDir();
  const need = spaceNeeded(o.profiles);
  const out: Finding[] = [nodeFinding()];
  const fixture = o.profiles.some((p) => 'fixture' in p.source);
  out.push(...(await Promise.all(TOOLS.map((t) => toolFinding(t, !t.neededBy || (t.check === 'tool mmdebstrap' && fixture))))));
  out.push(ovmfFinding(), await kvmFinding(), vsockFinding(), await loopFinding(), workRootFinding());
  out.push(spaceFinding('space work', work, need.work, `runs of ${o.profiles.map((p) => p.name).join(', ')}`));
  out.push(spaceFinding('space cache', cache, need.cache, `their disks and images`));
  out.push(...(await confinementFindings(work, cache)));
  out.push(await readerSandboxFinding());
  out.push(await swtpmFinding());
  return out;
}

/**
 * The cheap part, before a run's fixture stage: the tools this run needs, the firmware, the
 * work root and a swtpm that can make its socket there. The first failure ends the run (exit 3)
 * with the line `doctor` prints for it.
 */
export async function hostReady(tools: readonly string[]): Promise<void> {
  ensureWorkRoot(); // a work root that is not ours is bad input (exit 2), said by paths.ts
  const specs = tools.map((n) => TOOLS.find((t) => t.bin === n) ?? { check: `tool ${n}`, bin: n, find: finder(n), pkg: TOOL_PACKAGES[n] ?? n });
  // The version probes at once: this runs before every run.
  const checks: Finding[] = await Promise.all(specs.map((s) => toolFinding(s, true)));
  checks.push(ovmfFinding(), workRootFinding());
  if (!checks.some((c) => c.status === 'fail')) checks.push(await swtpmFinding());
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length) throw new InfraError('host', failed.map(findingLine).join('\n'));
}
