// What the image's files say of it, read from a mounted working container (every path
// resolved inside the image; nothing of it runs): bootc present and its version (from the
// package database), its kernel, the units it enables, the vermagic of a zfs module for its kernel.
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runSandboxed } from '../util/sandbox.js';
import { Teardown } from '../util/teardown.js';
import { readBootcVersion } from './bootc-version.js';
import { mountedContainer } from './buildah.js';
import { resolveInRoot } from './in-root.js';
import { findKernel } from './kernel.js';

export interface ImageProbe {
  hasBootc: boolean;
  /** bootc's upstream version from the image's package database; absent when unknown. */
  bootcVersion?: string;
  kernelRelease?: string;
  enabledUnits: Set<string>;
  zfsVermagic?: string;
}

const UNIT_DIRS = ['/etc/systemd/system', '/usr/lib/systemd/system'];
const PRESET_DIRS = ['/etc/systemd/system-preset', '/usr/lib/systemd/system-preset'];

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Units linked into .wants/.requires directories, aliases of those (a link named after another unit), and units presets enable. */
export function enabledUnits(root: string): Set<string> {
  const inRoot = (p: string) => resolveInRoot(root, p);
  const linked = new Set<string>();
  const aliases: [string, string][] = [];
  const unitFiles = new Set<string>();
  for (const d of UNIT_DIRS) {
    const dir = inRoot(d);
    for (const name of list(dir)) {
      if (/\.(wants|requires)$/.test(name)) for (const u of list(join(dir, name))) linked.add(u);
      else {
        unitFiles.add(name);
        const st = lstatSync(join(dir, name), { throwIfNoEntry: false });
        // A link (not to /dev/null: that masks) from one unit name to another is an alias.
        if (st?.isSymbolicLink() && d.startsWith('/etc')) {
          const target = readlinkSync(join(dir, name));
          if (target !== '/dev/null') aliases.push([name, basename(target)]);
        }
      }
    }
  }
  // Presets: files of the same name in /etc override /usr/lib; read in name order (systemd.preset(5)).
  const presetFiles = new Map<string, string>();
  for (const d of [...PRESET_DIRS].reverse()) for (const f of list(inRoot(d)).filter((x) => x.endsWith('.preset'))) presetFiles.set(f, readFileSync(join(inRoot(d), f), 'utf8'));
  const presets = [...presetFiles.keys()].sort().map((k) => presetFiles.get(k)!);
  for (const u of unitFiles) if (presetEnables(presets, u)) linked.add(u);
  for (const [alias, target] of aliases) if (linked.has(target)) linked.add(alias);
  return linked;
}

/** The zfs module for `release` (any compression), found under lib/modules/<release>. */
function findZfsModule(root: string, release: string): string | undefined {
  const base = resolveInRoot(root, `/usr/lib/modules/${release}`);
  const stack = [base];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const name of list(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) stack.push(p);
      else if (st?.isFile() && /^zfs\.ko(\.(xz|zst|gz))?$/.test(name)) return p;
    }
  }
  return undefined;
}

/** Runs inside the image stage: its signal (Ctrl-C, the stage's budget) stops every tool it runs. */
export async function probeImage(imageId: string, runId: string, ctx: { signal?: AbortSignal } = {}): Promise<ImageProbe> {
  const td = new Teardown();
  try {
    const root = (await mountedContainer(imageId, `bh-${runId}-probe`, td)).mountpoint;
    const kernel = findKernel(root);
    const zfs = kernel ? findZfsModule(root, kernel.release) : undefined;
    // The host's modinfo parses the module file (ELF, maybe compressed) as data, sandboxed: nothing
    // of the image runs, and a crafted module ends in one line, not a hang.
    const what = `modinfo on ${zfs?.slice(root.length)}`;
    const bounds = { stage: 'image' as const, what, timeoutMs: 20_000, maxOutputBytes: 64 * 1024, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    const vermagic = zfs ? (await runSandboxed(['modinfo', '-F', 'vermagic', zfs], { inputs: [zfs], user: 'root-in-userns' }, bounds)).stdout.trim() || undefined : undefined;
    const hasBootc = existsSync(resolveInRoot(root, '/usr/bin/bootc'));
    const bootc = hasBootc ? await readBootcVersion(root, 'image', ctx.signal ? { signal: ctx.signal } : {}) : undefined;
    return {
      hasBootc,
      ...(bootc?.version ? { bootcVersion: bootc.version } : {}),
      ...(kernel ? { kernelRelease: kernel.release } : {}),
      enabledUnits: enabledUnits(root),
      ...(vermagic ? { zfsVermagic: vermagic } : {}),
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
