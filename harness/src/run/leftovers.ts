// What a run may leave behind if teardown failed: processes, buildah working
// containers, mounts, loop devices, work directories. Tests assert this is empty.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../util/exec.js';
import { cacheDir, workDir } from '../util/paths.js';
import { liveRunIds } from './registry.js';

export interface Leftover {
  kind: 'process' | 'container' | 'mount' | 'loop' | 'workdir';
  what: string;
  /** A process's pid, so a cleanup can stop it. */
  pid?: number;
}

/** Everything belonging to runs whose id contains `marker` (or to any run, with ''). */
export async function findLeftovers(marker = ''): Promise<Leftover[]> {
  const found: Leftover[] = [];
  const work = workDir();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    // virtiofsd may run through the ld.so wrapper `just setup` writes on Debian 12: match anywhere.
    const ours = (/^(qemu-system-x86_64 -name bootc-harness|swtpm socket )/.test(cmd) || /virtiofsd --socket-path /.test(cmd)) && cmd.includes(work) && cmd.includes(marker);
    if (ours) found.push({ kind: 'process', what: `${pid} ${cmd.slice(0, 160)}`, pid: Number(pid) });
  }
  // Containers are the host's, not a work root's: those of a run still at work (in another
  // lane, say) are not left behind; those of a finished or abandoned run are.
  const ctrs = await checkedTool(['buildah', 'containers', '--format', '{{.ContainerName}}']);
  const live = liveRunIds();
  for (const name of ctrs.split('\n').filter(Boolean)) {
    const runId = /^bh-(.+)-[a-z]+$/.exec(name)?.[1];
    if (name.startsWith('bh-') && name.includes(marker) && !(runId && live.has(runId))) found.push({ kind: 'container', what: name });
  }
  // Mounts of a run, and those a killed fixture build (mmdebstrap's chroot) left behind; a
  // build still in progress (its builder alive) mounts them legitimately.
  const fixtures = join(cacheDir(), 'fixtures');
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountpoint = line.split(' ')[4];
    if (!mountpoint || !mountpoint.includes(marker)) continue;
    if (mountpoint.startsWith(work) || (mountpoint.startsWith(fixtures) && !buildAlive(mountpoint))) found.push({ kind: 'mount', what: mountpoint });
  }
  const loops = await checkedTool(['losetup', '--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  for (const line of loops.split('\n').filter(Boolean)) {
    if (line.includes(work) && line.includes(marker)) found.push({ kind: 'loop', what: line.trim() });
  }
  if (existsSync(work)) {
    for (const d of readdirSync(work)) if (d.includes(marker) && !d.startsWith('.')) found.push({ kind: 'workdir', what: join(work, d) });
  }
  return found;
}

/** A fixture build tree is named <entry>.tmp-<builder pid>-<time>: is that builder still running? */
export function buildAlive(path: string, alive: (pid: number) => boolean = pidAlive): boolean {
  const m = /\.tmp-(\d+)-\d+(\/|$)/.exec(path);
  return m !== null && alive(Number(m[1]));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A check that cannot look has not found nothing: a tool that fails fails the check. */
async function checkedTool(argv: string[]): Promise<string> {
  const r = await run(argv, { stage: 'shutdown' });
  if (r.exitCode !== 0) throw new Error(`leftover check: ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout;
}
