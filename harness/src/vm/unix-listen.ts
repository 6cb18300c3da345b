// A daemon's socket file exists from bind(2) on, a moment before listen(2): a client that
// connects in between is refused (QEMU to swtpm: "Failed to connect"). The kernel's own table
// of unix sockets (/proc/net/unix, proc(5)) tells the two apart without connecting, which
// matters here: swtpm --terminate exits when its one control connection closes, and virtiofsd
// serves its first client only, so a trial connect would use the daemon up.
import { readFile } from 'node:fs/promises';
import { poll } from '../util/deadline.js';

/** proc(5): Flags __SO_ACCEPTCON (0x10000) marks a listening socket. */
const SO_ACCEPTCON = 0x10000;

/**
 * Pure: `path`'s state in a /proc/net/unix text. 'listening' once any socket bound there
 * listens; 'bound' when it is bound but none listens yet; 'unlisted' when no socket of this
 * network namespace is bound there (a daemon in a namespace of its own, as passt's is: then
 * the table cannot tell, and the caller goes by the file).
 */
export function unixSocketState(table: string, path: string): 'listening' | 'bound' | 'unlisted' {
  let bound = false;
  for (const line of table.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode [Path]; the path may hold spaces: everything after the 7th field.
    const m = /^\s*\S+:\s+\S+\s+\S+\s+([0-9A-Fa-f]+)\s+\S+\s+\S+\s+\d+ (.*)$/.exec(line);
    if (!m || m[2] !== path) continue;
    if (parseInt(m[1]!, 16) & SO_ACCEPTCON) return 'listening';
    bound = true;
  }
  return bound ? 'bound' : 'unlisted';
}

/** Resolves once no socket bound at `path` is still short of listen(2); retried briefly, it is a window of microseconds. */
export function listensOn(path: string, budgetMs: number, signal?: AbortSignal): Promise<void> {
  return poll(
    async () => {
      const state = unixSocketState(await readFile('/proc/net/unix', 'utf8'), path);
      return state === 'bound' ? { done: false, diagnostic: `${path} is bound but not listening yet` } : { done: true, value: undefined };
    },
    { what: `${path} listening`, budgetMs, initialDelayMs: 5, maxDelayMs: 200, ...(signal ? { signal } : {}) },
  );
}
