// What the image's files say of it, read from a mounted working container (every path
// resolved inside the image; nothing of it runs): bootc present and its version (from the
// package database), its kernel, the units it enables, the vermagic and version of a zfs module for its kernel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runSandboxed } from '../util/sandbox.js';
import { Teardown } from '../util/teardown.js';
import { readBootcVersion } from './bootc-version.js';
import { mountedContainer } from './buildah.js';
import { copyFileOutOfRoot, isFileInRoot, listDirInRoot, readTextInRoot } from './in-root.js';
import { findKernel } from './kernel.js';

export interface ImageProbe {
  hasBootc: boolean;
  /** bootc's upstream version from the image's package database; absent when unknown. */
  bootcVersion?: string;
  kernelRelease?: string;
  enabledUnits: Set<string>;
  zfsVermagic?: string;
  /** The zfs module's own version (modinfo's `version:`, "2.3.2-2"), read the same way. */
  zfsModuleVersion?: string;
}

const UNIT_DIRS = ['/etc/systemd/system', '/usr/lib/systemd/system'];
const PRESET_DIRS = ['/etc/systemd/system-preset', '/usr/lib/systemd/system-preset'];

/** Units linked into .wants/.requires directories, aliases of those (a link named after another unit), and units presets enable.
 *  Every directory and preset is walked inside the image (a .wants or preset linked to a host
 *  path is read at that path in the image); a preset that is a FIFO or device is refused. */
export async function enabledUnits(root: string): Promise<Set<string>> {
  const linked = new Set<string>();
  const aliases: [string, string][] = [];
  const unitFiles = new Set<string>();
  for (const d of UNIT_DIRS) {
    for (const e of (await listDirInRoot(root, d)) ?? []) {
      if (/\.(wants|requires)$/.test(e.name)) {
        if (e.type === 'dir' || e.type === 'symlink') for (const u of (await listDirInRoot(root, `${d}/${e.name}`)) ?? []) linked.add(u.name);
      } else {
        unitFiles.add(e.name);
        // A link (not to /dev/null: that masks) from one unit name to another is an alias.
        if (e.type === 'symlink' && e.link !== undefined && d.startsWith('/etc') && e.link !== '/dev/null') aliases.push([e.name, basename(e.link)]);
      }
    }
  }
  // Presets: files of the same name in /etc override /usr/lib; read in name order (systemd.preset(5)).
  const presetFiles = new Map<string, string>();
  for (const d of [...PRESET_DIRS].reverse()) {
    for (const { name } of ((await listDirInRoot(root, d)) ?? []).filter((x) => x.name.endsWith('.preset'))) {
      const text = await readTextInRoot(root, `${d}/${name}`);
      if (text !== undefined) presetFiles.set(name, text);
    }
  }
  const presets = [...presetFiles.keys()].sort().map((k) => presetFiles.get(k)!);
  for (const u of unitFiles) if (presetEnables(presets, u)) linked.add(u);
  for (const [alias, target] of aliases) if (linked.has(target)) linked.add(alias);
  return linked;
}

/** The zfs module for `release` (any compression), found under lib/modules/<release>: its path in the image. */
async function findZfsModule(root: string, release: string): Promise<string | undefined> {
  const stack = [`/usr/lib/modules/${release}`];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of (await listDirInRoot(root, dir)) ?? []) {
      const p = `${dir}/${e.name}`;
      if (e.type === 'dir') stack.push(p);
      else if (e.type === 'file' && /^zfs\.ko(\.(xz|zst|gz))?$/.test(e.name)) return p;
    }
  }
  return undefined;
}

/** Pure: modinfo(8)'s listing as fields (`name:  value`, the first of each). */
export function modinfoFields(listing: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of listing.matchAll(/^([a-z_]+):[ \t]+(.*?)\s*$/gm)) if (!fields.has(m[1]!)) fields.set(m[1]!, m[2]!);
  return fields;
}

/** A kernel module's vermagic and version: the host's modinfo parses a copy taken out of the image
 *  (ELF, maybe compressed) as data, sandboxed, under the stage's signal: nothing of the image runs,
 *  and a crafted module ends in one line, not a hang. */
async function moduleInfo(root: string, path: string, signal?: AbortSignal): Promise<{ vermagic?: string; version?: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'bh-module-'));
  try {
    const copy = join(tmp, basename(path));
    if (!(await copyFileOutOfRoot(root, path, copy, 256 * 2 ** 20))) return {};
    const bounds = { stage: 'image' as const, what: `modinfo on ${path}`, timeoutMs: 20_000, maxOutputBytes: 256 * 1024, ...(signal ? { signal } : {}) };
    const fields = modinfoFields((await runSandboxed(['modinfo', copy], { inputs: [copy], user: 'root-in-userns' }, bounds)).stdout);
    const vermagic = fields.get('vermagic');
    const version = fields.get('version');
    return { ...(vermagic ? { vermagic } : {}), ...(version ? { version } : {}) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs inside the image stage: its signal (Ctrl-C, the stage's budget) stops every tool it runs. */
export async function probeImage(imageId: string, runId: string, ctx: { signal?: AbortSignal } = {}): Promise<ImageProbe> {
  const td = new Teardown();
  try {
    const root = (await mountedContainer(imageId, `bh-${runId}-probe`, td)).mountpoint;
    const kernel = await findKernel(root);
    const zfs = kernel ? await findZfsModule(root, kernel.release) : undefined;
    const zfsInfo = zfs ? await moduleInfo(root, zfs, ctx.signal) : {};
    const hasBootc = await isFileInRoot(root, '/usr/bin/bootc');
    const bootc = hasBootc ? await readBootcVersion(root, 'image', ctx.signal ? { signal: ctx.signal } : {}) : undefined;
    return {
      hasBootc,
      ...(bootc?.version ? { bootcVersion: bootc.version } : {}),
      ...(kernel ? { kernelRelease: kernel.release } : {}),
      enabledUnits: await enabledUnits(root),
      ...(zfsInfo.vermagic ? { zfsVermagic: zfsInfo.vermagic } : {}),
      ...(zfsInfo.version ? { zfsModuleVersion: zfsInfo.version } : {}),
    };
  } finally {
    await td.runOrThrow();
  }
}

/** Pure: systemd preset rules, first match wins (systemd.preset(5)); files given in the order systemd reads them. */
export function presetEnables(files: readonly string[], unit: string): boolean {
  for (const text of files) {
    for (const raw of text.split('\n')) {
      const m = /^\s*(enable|disable)\s+(\S+)/.exec(raw);
      if (!m) continue;
      const glob = new RegExp(`^${m[2]!.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      if (glob.test(unit)) return m[1] === 'enable';
    }
  }
  return false;
}
