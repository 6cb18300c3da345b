// Tools that parse what an image or its installer wrote (an rpm database, a disk's partition
// table, FAT and ext4 file systems, a UKI) are parsers of hostile input: each runs in a
// bubblewrap sandbox with no network, no host files but the host's /usr and its own input, a
// tmpfs for scratch, no capabilities, and a deadline and an output limit. A hostile input then
// ends the run with one line naming the tool and the input, never a hang.
// bwrap(1): --unshare-all (user, ipc, pid, net, uts, cgroup), --die-with-parent, --new-session
// (no TIOCSTI into our terminal), --cap-drop ALL, --clearenv.
import { chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InfraError, UsageError, type Stage } from '../errors.js';
import { run, ToolOverrun, type ExecResult } from './exec.js';
import { which } from './tools.js';

export interface SandboxSpec {
  /** Host paths the tool reads: each bound read-only at the same path. */
  inputs: readonly string[];
  /** Host directories the tool writes its output into: bound writable at the same path. */
  outputs?: readonly string[];
  /**
   * 'nobody': the tool runs as uid/gid 65534 on the host too (bwrap started through setpriv),
   * so its inputs must be readable by anyone. 'root-in-userns': for a tool whose input only root
   * can read (a run's 0600 disk file): root's uid mapped to nobody inside a user namespace of
   * its own, with every capability dropped. 'root-reader': for a tool that reads a whole image
   * tree (files of any owner, 0700 directories) and must see its owners as they are (no user
   * namespace would map them): host root with every capability dropped but CAP_DAC_READ_SEARCH
   * (read any file, search any directory; write, chown, mknod or mount nothing it does not own),
   * in namespaces of its own but the user one.
   */
  user: 'nobody' | 'root-in-userns' | 'root-reader';
  /** Largest file the tool may write (RLIMIT_FSIZE, through prlimit): a crafted input that makes a
   *  tool copy without end hits this, not the host's disk. Default DEFAULT_MAX_FILE. */
  maxFileBytes?: number;
}

export const DEFAULT_MAX_FILE = 256 * 1024 * 1024;

/** A tool that reads a whole image tree (mke2fs -d, mkcomposefs, getfattr -R): its deadline, wherever it is called from. */
export const TREE_TOOL_MS = 10 * 60_000;

/** The host programs the sandbox is made of (absolute paths in a real run). */
export interface SandboxTools {
  bwrap: string;
  setpriv: string;
  prlimit: string;
}
const BY_NAME: SandboxTools = { bwrap: 'bwrap', setpriv: 'setpriv', prlimit: 'prlimit' };

export const NOBODY = 65534;

/** Pure: the command line running `argv` inside the sandbox `spec` describes. */
export function sandboxArgv(argv: readonly string[], spec: SandboxSpec, tools: SandboxTools = BY_NAME): string[] {
  if (!argv[0]?.startsWith('/')) throw new UsageError(`sandboxed tool must be an absolute path, got ${JSON.stringify(argv[0])}`);
  for (const p of [...spec.inputs, ...(spec.outputs ?? [])]) {
    if (!p.startsWith('/') || p === '/' || /[\0\n]/.test(p)) throw new UsageError(`bad sandbox path ${JSON.stringify(p)}`);
  }
  const fsize = spec.maxFileBytes ?? DEFAULT_MAX_FILE;
  if (!Number.isSafeInteger(fsize) || fsize < 0) throw new UsageError(`bad sandbox file size limit ${fsize}`);
  const asNobody = spec.user === 'nobody' ? [tools.setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : [];
  return [
    ...asNobody,
    tools.prlimit, `--fsize=${fsize}`, '--',
    tools.bwrap,
    ...(spec.user === 'root-reader'
      ? // --unshare-all less the user namespace (bwrap(1)); as root bwrap may keep one capability.
        ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--cap-add', 'CAP_DAC_READ_SEARCH']
      : ['--unshare-all', '--die-with-parent', '--new-session', '--uid', String(NOBODY), '--gid', String(NOBODY), '--cap-drop', 'ALL']),
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/usr/sbin', '--setenv', 'LC_ALL', 'C.UTF-8',
    // The host's programs and libraries, read-only; Debian's merged /usr: the top-level links.
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin',
    '--proc', '/proc', '--dev', '/dev',
    '--tmpfs', '/tmp',
    ...spec.inputs.flatMap((p) => ['--ro-bind', p, p]),
    ...(spec.outputs ?? []).flatMap((p) => ['--bind', p, p]),
    '--chdir', '/tmp',
    '--',
    ...argv,
  ];
}

export interface SandboxedRun {
  stage: Stage;
  /** How the one line names the tool and its input, e.g. "sqlite3 on /usr/lib/sysimage/rpm/rpmdb.sqlite". */
  what: string;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  encoding?: 'utf8' | 'latin1';
}

/**
 * Inside, the host's /usr is all there is: a tool found elsewhere (a wrapper `just setup`
 * unpacked beside its libraries, a link to /usr/bin on a PATH of one's own) needs its own
 * directory too, read-only. /bin and /sbin are links into /usr already.
 */
function toolDirOutsideUsr(exe: string): string[] {
  const dir = dirname(exe);
  return realpathSync(dir).startsWith('/usr/') ? [] : [dir];
}

/** The tool's absolute path on this host, or a line saying which tool is missing. */
function toolPath(name: string): string {
  const p = name.startsWith('/') ? name : which(name, `${process.env.PATH ?? ''}:/usr/sbin:/sbin`);
  if (!p) throw new UsageError(`${name} is not installed on this host`);
  return p;
}

/**
 * Runs a parser of untrusted input in the sandbox; never throws on a non-zero exit. A tool that
 * overruns its deadline or output limit ends the run with one line naming it and its input
 * (exit 2: the input is bad, whatever made it so).
 */
export async function runSandboxed(argv: readonly string[], spec: SandboxSpec, opts: SandboxedRun): Promise<ExecResult> {
  const [tool, ...args] = argv;
  if (!tool) throw new UsageError('empty command line');
  const bwrap = which('bwrap');
  if (!bwrap) throw new UsageError('bwrap is not installed on this host (apt-get install bubblewrap): tools that parse image data run in it');
  const tools = { bwrap, setpriv: toolPath('setpriv'), prlimit: toolPath('prlimit') };
  const exe = toolPath(tool);
  return runBounded(sandboxArgv([exe, ...args], { ...spec, inputs: [...spec.inputs, ...toolDirOutsideUsr(exe)] }, tools), opts);
}

/** argv with the run's deadline and output limit; overrunning either is the input's fault: one line, exit 2. */
async function runBounded(argv: readonly string[], opts: SandboxedRun): Promise<ExecResult> {
  try {
    return await run(argv, {
      stage: opts.stage,
      what: opts.what,
      timeoutMs: opts.timeoutMs,
      maxOutputBytes: opts.maxOutputBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.encoding ? { encoding: opts.encoding } : {}),
    });
  } catch (e) {
    if (e instanceof ToolOverrun) throw new UsageError(`${e.message.replace(/^\[\w+\] /, '')}: a hostile or broken input`);
    throw e;
  }
}

/**
 * Can a 'root-reader' tool use its one capability on this host? From Ubuntu 25.04 the apparmor
 * package ships /etc/apparmor.d/bwrap-userns-restrict (microsoft/vscode#316046; 24.04 had it in
 * extra-profiles, not loaded), whose `unpriv_bwrap` profile, stacked on everything bwrap runs,
 * says `audit deny capability`: there the tool runs, even as root, but cannot read a file of
 * another owner in a 0700 directory. Tried once per process, not inferred: such a file, made
 * for the purpose, read in the sandbox.
 */
let readerCapability: Promise<boolean> | undefined;
export function rootReaderHasCapability(): Promise<boolean> {
  return (readerCapability ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-reader-probe-'));
    try {
      const sealed = join(dir, 'sealed');
      mkdirSync(sealed, { mode: 0o700 });
      writeFileSync(join(sealed, 'f'), 'readable\n', { mode: 0o600 });
      chownSync(join(sealed, 'f'), NOBODY, NOBODY);
      chownSync(sealed, NOBODY, NOBODY);
      const r = await runSandboxed(['/usr/bin/cat', join(sealed, 'f')], { inputs: [sealed], user: 'root-reader' }, { stage: 'image', what: 'the sandbox probe', timeoutMs: 20_000, maxOutputBytes: 4096 });
      return r.exitCode === 0 && r.stdout === 'readable\n';
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })());
}

/** Said once per process when the tree readers cannot be sandboxed here. */
export const READER_UNSANDBOXED = "what bwrap runs cannot use CAP_DAC_READ_SEARCH on this host (on Ubuntu 25.04+, AppArmor's bwrap-userns-restrict denies it every capability): getfattr, getcap, mke2fs -d and mkcomposefs read the image tree unsandboxed, as root, with their deadlines and limits";
let warned = false;

/**
 * A reader of the whole image tree (getfattr, getcap, mke2fs -d, mkcomposefs): in the sandbox as
 * 'root-reader' where the host lets it keep CAP_DAC_READ_SEARCH; where it cannot (above), on the
 * host with the same deadline, output and file-size limits, and one line on stderr saying so.
 * Never throws on a non-zero exit (runTreeReaderChecked does).
 */
export async function runTreeReader(argv: readonly string[], spec: Omit<SandboxSpec, 'user'>, opts: SandboxedRun, canSandbox: () => Promise<boolean> = rootReaderHasCapability): Promise<ExecResult> {
  if (await canSandbox()) return runSandboxed(argv, { ...spec, user: 'root-reader' }, opts);
  if (!warned) {
    warned = true;
    process.stderr.write(`bootc-harness: ${READER_UNSANDBOXED}\n`);
  }
  return runBounded([toolPath('prlimit'), `--fsize=${spec.maxFileBytes ?? DEFAULT_MAX_FILE}`, '--', toolPath(argv[0]!), ...argv.slice(1)], opts);
}

/** runTreeReader, and a non-zero exit fails the stage with the tool's last lines. */
export async function runTreeReaderChecked(argv: readonly string[], spec: Omit<SandboxSpec, 'user'>, opts: SandboxedRun): Promise<ExecResult> {
  return failOnExit(await runTreeReader(argv, spec, opts), opts);
}

function failOnExit(r: ExecResult, opts: SandboxedRun): ExecResult {
  if (r.exitCode !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-6).join('\n');
    throw new InfraError(opts.stage, `${opts.what} exited ${r.exitCode}${tail ? `: ${tail}` : ''}`);
  }
  return r;
}
