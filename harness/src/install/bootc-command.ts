// Pure builders for installing a bootable container image with `bootc install to-disk`:
// argv arrays (checked against the image's bootc version), a parser for the bits of bootc's
// install config we need, and a check of the wanted block setup against it. No I/O.
//
// Written to bootc's documentation and source (repository bootc-dev/bootc):
//   docs/src/bootc-installation.7.md (docs/src/bootc-install.md before the man(7) rename)
//     "Executing bootc install" (the podman flags), "Using bootc install to-disk --via-loopback"
//   docs/src/man/bootc-install-to-disk.8.md  (every to-disk option used here)
//   docs/src/man/bootc-install-config.5.md   (install config files, `block` default)
//   docs/src/bootc-composefs.7.md (earlier experimental-composefs.md): its "Known issues"
//   crates/lib/src/install.rs (InstallTargetOpts, InstallComposefsOpts: the flags themselves)
//   crates/lib/src/install/config.rs         (how config files are found and merged)
import { parse as parseToml, TomlError } from 'smol-toml';
import { UsageError } from '../errors.js';
import { SERIAL_CONSOLE_KARG } from '../vm/qemu-args.js';

export type RootFilesystem = 'ext4' | 'xfs' | 'btrfs';
export type BlockSetup = 'direct' | 'tpm2-luks';

export interface BootcInstallOptions {
  /** The image bootc runs from; it installs itself (used by `bootcInstallCommand`). */
  imageRef: string;
  /** Host placement: a disk image file (with viaLoopback). VM placement: a block device,
   *  e.g. /dev/disk/by-id/virtio-bh-target. As seen by bootc, i.e. inside the container. */
  targetDevice: string;
  filesystem: RootFilesystem;
  /** Extra kernel arguments; `console=ttyS0` always comes first. */
  kargs: readonly string[];
  /** An authorized_keys file as seen by bootc. Passed only to the ostree backend: see rootKeyPlacement. */
  authorizedKeysPath?: string;
  composefsBackend: boolean;
  /** composefs on a filesystem without fs-verity (xfs). Only with composefsBackend. */
  allowMissingVerity?: boolean;
  blockSetup?: BlockSetup;
  viaLoopback: boolean;
  /** All bootloader types installed, firmware (EFI variables) left alone. */
  genericImage: boolean;
  /** The image `bootc upgrade` fetches later; default: the ref podman ran. */
  targetImgref?: string;
  /** Install from this ref instead of finding the running container's image. */
  sourceImgref?: string;
  /** The image's bootc version (image/bootc-version.ts); undefined when unknown: every flag is passed. */
  bootcVersion?: string;
}

// Flags younger than bootc itself, with the first release that takes them. Older releases
// refuse an unknown flag, so a run that needs one stops here with a clear line instead.
//   --composefs-backend: the rename of --composefs-native (bootc-dev/bootc#1644, Oct 2025);
//     composefs "always compiled in as of bootc v1.10.1" (docs/src/experimental-composefs.md).
//   --allow-missing-verity: the rename of --insecure (bootc-dev/bootc#2004, merged 2026-02-12;
//     1.14 is issue 17's figure: the first release tag carrying it was not checked).
export const FLAG_SINCE: readonly (readonly [flag: string, since: string])[] = [
  ['--composefs-backend', '1.10'],
  ['--allow-missing-verity', '1.14'],
];

/** [major, minor, patch] of a version's leading numbers ("1.14.0~rc1-2" is 1.14.0), or undefined. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

export function versionAtLeast(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

function absolute(what: string, p: string): void {
  if (!p.startsWith('/')) throw new UsageError(`${what} must be an absolute path, got ${JSON.stringify(p)}`);
}

/** The `bootc install to-disk …` argv. Throws UsageError on combinations bootc refuses or that cannot work. */
export function bootcInstallArgs(o: BootcInstallOptions): string[] {
  absolute('bootc target', o.targetDevice);
  const isDev = o.targetDevice.startsWith('/dev/');
  if (o.viaLoopback && isDev) throw new UsageError(`--via-loopback writes to a file, not the device ${o.targetDevice}`);
  if (!o.viaLoopback && !isDev) throw new UsageError(`${o.targetDevice} is not under /dev: a disk image file needs --via-loopback`);
  // tpm2-luks enrolls the TPM bootc sees (systemd-cryptenroll). On the host that is the
  // host's TPM, never the VM's swtpm, so the installed disk could not unlock in the VM.
  if (o.blockSetup === 'tpm2-luks' && o.viaLoopback) {
    throw new UsageError('tpm2-luks binds the disk to the TPM bootc sees: install inside the VM that owns the swtpm, not via loopback on the host');
  }
  // clap: `--allow-missing-verity` requires `--composefs-backend`.
  if (o.allowMissingVerity && !o.composefsBackend) throw new UsageError('--allow-missing-verity needs the composefs backend');
  // bootc-composefs.7.md: filesystems without fs-verity (such as XFS) only with fs-verity made optional.
  if (o.composefsBackend && o.filesystem === 'xfs' && !o.allowMissingVerity) {
    throw new UsageError('composefs on xfs needs --allow-missing-verity: xfs has no fs-verity');
  }
  if (o.authorizedKeysPath !== undefined) absolute('authorized_keys path', o.authorizedKeysPath);
  for (const k of o.kargs) {
    if (k === '' || /\s/.test(k) || k.startsWith('-')) throw new UsageError(`bad kernel argument ${JSON.stringify(k)}`);
  }

  const args = ['bootc', 'install', 'to-disk'];
  if (o.viaLoopback) args.push('--via-loopback');
  if (o.genericImage) args.push('--generic-image');
  args.push('--wipe', '--filesystem', o.filesystem);
  // Always explicit: left out, bootc takes the first entry of the image's own `block` list
  // (bootc-install-config(5)), and an image listing tpm2-luks first would bind the TPM
  // bootc sees (the host's, from the host placement).
  args.push('--block-setup', o.blockSetup ?? 'direct');
  if (o.composefsBackend) args.push('--composefs-backend');
  if (o.allowMissingVerity) args.push('--allow-missing-verity');
  if (o.sourceImgref) args.push('--source-imgref', o.sourceImgref);
  if (o.targetImgref) args.push('--target-imgref', o.targetImgref);
  const kargs = [SERIAL_CONSOLE_KARG, ...o.kargs.filter((k) => k !== SERIAL_CONSOLE_KARG)];
  for (const k of kargs) args.push('--karg', k);
  if (o.authorizedKeysPath !== undefined && rootKeyPlacement(o) === 'bootc-flag') {
    args.push('--root-ssh-authorized-keys', o.authorizedKeysPath);
  }
  args.push(o.targetDevice);
  const have = o.bootcVersion === undefined ? undefined : parseVersion(o.bootcVersion);
  for (const [flag, since] of have ? FLAG_SINCE : []) {
    if (args.includes(flag) && !versionAtLeast(have!, parseVersion(since)!)) {
      throw new UsageError(`${flag} came in bootc ${since}; the image has bootc ${o.bootcVersion}`);
    }
  }
  return args;
}

// Root's SSH key.
// ostree backend: `--root-ssh-authorized-keys` writes /etc/tmpfiles.d/bootc-root-ssh.conf
//   into the deployment (to-disk(8); crates/lib/src/install.rs InstallConfigOpts).
// composefs backend: the flag "is silently ignored" (bootc-composefs.7.md, Known issues,
//   bootc-dev/bootc#2535), so it is not passed. The key goes in at boot instead, as the
//   systemd credential `ssh.authorized_keys.root` in an SMBIOS type 11 string on the QEMU
//   command line (smbios-type-11(7), systemd >= 252). systemd's own
//   /usr/lib/tmpfiles.d/provision.conf writes it to /root/.ssh/authorized_keys.
// Why not `--karg systemd.set_credential_binary=…`: CLI kargs do land on the composefs
//   to-disk BLS path (bootc-dev/bootc#2304), but not in a UKI, and a per-run key baked
//   into the disk defeats the cached base disk. Why not a tmpfiles.d snippet: it changes
//   the image under test (and its composefs digest). The SMBIOS credential changes neither
//   image nor disk, and works for both backends: callers may always add it.
export type RootKeyPlacement = 'bootc-flag' | 'smbios-credential';

export function rootKeyPlacement(o: Pick<BootcInstallOptions, 'composefsBackend'>): RootKeyPlacement {
  return o.composefsBackend ? 'smbios-credential' : 'bootc-flag';
}

export interface BindMount {
  host: string;
  guest: string;
  readOnly?: boolean;
}

export interface PodmanRunOptions {
  imageRef: string;
  mounts: readonly BindMount[];
  bootcArgs: readonly string[];
}

/** `podman run` for bootc install, with the flags of bootc-installation.7.md "Executing bootc install":
 *  --privileged (all host devices), --pid=host --ipc=host --security-opt label=type:unconfined_t
 *  (privileged operations), /var/lib/containers (bootc reads its own image from there), and
 *  /dev (--via-loopback refuses to run without it: "Loopback mounts (--via-loopback) require
 *  host devices (-v /dev:/dev)"). Rootful podman only: the image must be in root's storage. */
export function podmanRunArgs(p: PodmanRunOptions): string[] {
  if (p.imageRef === '' || p.imageRef.startsWith('-')) throw new UsageError(`bad image reference ${JSON.stringify(p.imageRef)}`);
  if (p.bootcArgs[0] !== 'bootc') throw new UsageError('the container command must be bootc');
  const volumes = p.mounts.flatMap((m) => {
    for (const [what, path] of [['mount source', m.host], ['mount target', m.guest]] as const) {
      absolute(what, path);
      if (/[:,]/.test(path)) throw new UsageError(`${what} ${path}: podman -v cannot take ':' or ','`);
    }
    return ['-v', `${m.host}:${m.guest}${m.readOnly ? ':ro' : ''}`];
  });
  return [
    'podman', 'run', '--rm', '--privileged', '--pid=host', '--ipc=host',
    '-v', '/var/lib/containers:/var/lib/containers',
    '-v', '/dev:/dev',
    '--security-opt', 'label=type:unconfined_t',
    ...volumes,
    p.imageRef,
    ...p.bootcArgs,
  ];
}

/** podman run + bootc install for one set of options. */
export function bootcInstallCommand(o: BootcInstallOptions, mounts: readonly BindMount[] = []): string[] {
  return podmanRunArgs({ imageRef: o.imageRef, mounts, bootcArgs: bootcInstallArgs(o) });
}

// ---- install config: /usr/lib/bootc/install/*.toml and friends ----------------------

export interface InstallConfig {
  /** The file has an [install] table (only then does bootc count it). */
  hasInstall: boolean;
  /** [install] block = [...] */
  allowedBlock?: string[];
  /** [install.filesystem.root] type, else the older [install] root-fs-type. */
  rootFs?: string;
  /** [install] match-architectures: the only spelling bootc reads (serde's kebab-case). */
  matchArchitectures?: string[];
}

/** TOML as bootc reads it; a syntax error is one line that names where. */
function parseTomlText(text: string): TomlTable {
  try {
    return parseToml(text);
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    throw new Error(`line ${e.line}, column ${e.column}: ${e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}`);
  }
}

/** A TOML table as smol-toml returns it. */
type TomlTable = Record<string, unknown>;

function asTable(v: unknown): TomlTable | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? (v as TomlTable) : undefined;
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${what} must be an array of strings`);
  return v as string[];
}

/** The parts of one bootc install config file that the harness needs. Throws on bad TOML. */
export function parseInstallConfig(tomlText: string): InstallConfig {
  const install = asTable(parseTomlText(tomlText).install);
  if (!install) return { hasInstall: false };
  const out: InstallConfig = { hasInstall: true };
  const block = stringList(install.block, 'install.block');
  if (block) out.allowedBlock = block;
  const rootType = asTable(asTable(install.filesystem)?.root)?.type;
  const legacy = install['root-fs-type'];
  const fs = rootType ?? legacy;
  if (fs !== undefined) {
    if (typeof fs !== 'string') throw new Error('root filesystem type must be a string');
    out.rootFs = fs;
  }
  // bootc reads the kebab-case key (serde rename_all); a snake_case match_architectures is
  // not a filter bootc applies, so it is not one here either.
  const arches = stringList(install['match-architectures'], 'install.match-architectures');
  if (arches) out.matchArchitectures = arches;
  return out;
}

// bootc reads bootc/install/*.toml under these bases; a later base's file replaces a
// same-named one, then files apply in name order, later values winning (config.rs load_config).
const CONFIG_BASES = ['/usr/lib/', '/usr/local/lib/', '/etc/', '/run/'];

function baseRank(path: string): number {
  const r = CONFIG_BASES.findIndex((b) => path.startsWith(b));
  return r < 0 ? 0 : r;
}

/** Undefined when bootc will accept `--block-setup wanted`, else a one-line reason.
 *  No [install] table anywhere: bootc takes any --block-setup (we always pass --filesystem).
 *  Otherwise the last `block` set wins and, when none is set, it is ["direct"]
 *  (bootc-install-config(5): "if not specified, this will just be `direct`"). */
export function checkBlockSetupAllowed(
  configs: readonly { path: string; text: string }[],
  wanted: BlockSetup,
  arch = 'x86_64',
): string | undefined {
  const byName = new Map<string, { path: string; text: string }>();
  for (const c of configs) {
    const name = c.path.slice(c.path.lastIndexOf('/') + 1);
    const prev = byName.get(name);
    if (!prev || baseRank(c.path) >= baseRank(prev.path)) byName.set(name, c);
  }
  const ordered = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  const counted: string[] = [];
  let block: string[] | undefined;
  let blockFrom = '';
  for (const c of ordered) {
    let parsed: InstallConfig;
    try {
      parsed = parseInstallConfig(c.text);
    } catch (err) {
      return `image install config ${c.path} does not parse: ${(err as Error).message}`;
    }
    if (!parsed.hasInstall) continue;
    if (parsed.matchArchitectures && !parsed.matchArchitectures.includes(arch)) continue;
    counted.push(c.path);
    if (parsed.allowedBlock) {
      block = parsed.allowedBlock;
      blockFrom = c.path;
    }
  }
  if (counted.length === 0) return undefined;
  const allowed = block ?? ['direct'];
  if (allowed.includes(wanted)) return undefined;
  const list = allowed.length ? `block setups ${allowed.join(', ')}` : 'no block setup';
  return block
    ? `image install config ${blockFrom} allows ${list}, not ${wanted}`
    : `image install config ${counted.join(', ')} sets no block, so bootc allows only direct, not ${wanted}`;
}
