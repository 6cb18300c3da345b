// CPU seconds a child process and everything it waited for used (user + system), for the
// table CI ends with: a change that adds CPU shows even where wall time hides it (a build
// overlapping the tests, two jobs sharing cores). GNU time reports the child's rusage as
// wait4() returns it, which includes every descendant that was waited for (tap's test
// processes, the harness's QEMU, swtpm, mmdebstrap's apt and dpkg); setup-host.sh installs it.
import { existsSync, readFileSync, rmSync } from 'node:fs';

export const GNU_TIME = '/usr/bin/time';

/** Pure: `argv` run under GNU time writing "USER SYS" seconds to `outFile`; argv unchanged without GNU time. */
export function timedArgv(argv: readonly string[], outFile: string, haveTime = existsSync(GNU_TIME)): string[] {
  return haveTime ? [GNU_TIME, '-f', '%U %S', '-o', outFile, ...argv] : [...argv];
}

/** Pure: user + system seconds from GNU time's -o file (a line about the exit status may come first). */
export function cpuSecondsOf(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/m.exec(text.trim().split('\n').at(-1) ?? '');
  return m ? Number(m[1]) + Number(m[2]) : undefined;
}

/** Reads and removes the -o file; undefined when GNU time did not run. */
export function takeCpuSeconds(outFile: string): number | undefined {
  if (!existsSync(outFile)) return undefined;
  const s = cpuSecondsOf(readFileSync(outFile, 'utf8'));
  rmSync(outFile, { force: true });
  return s;
}
