// The sandbox for parsers of image data: what its command line promises (pure), and what a tool
// inside it really can and cannot reach (live bwrap): its input only, no host file, no network,
// no capabilities, and a deadline that ends it with one line naming the tool and its input.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOBODY, runSandboxed, sandboxArgv } from '../src/util/sandbox.js';
import { which } from '../src/util/tools.js';

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'bh-sandbox-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The values following each occurrence of `flag` (pairs: source, dest). */
function pairsOf(argv: string[], flag: string): [string, string][] {
  const out: [string, string][] = [];
  argv.forEach((a, i) => a === flag && out.push([argv[i + 1]!, argv[i + 2]!]));
  return out;
}

t.test('the command line: no namespace shared, no capability, inputs read-only, outputs only where asked', async (t) => {
  const a = sandboxArgv(['/usr/bin/sqlite3', '-readonly', '/tmp/x/db'], { inputs: ['/tmp/x/db'], outputs: ['/tmp/out'], user: 'root-in-userns' });
  t.notOk(a.includes('setpriv'), 'root-in-userns: no setpriv');
  t.equal(a[a.indexOf('prlimit') + 1], '--fsize=268435456', 'files it writes are size-limited (default 256 MiB)');
  t.equal(a[a.indexOf('prlimit') + 2], '--', 'then bwrap');
  for (const f of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv']) t.ok(a.includes(f), `${f}`);
  t.equal(a[a.indexOf('--cap-drop') + 1], 'ALL', 'every capability dropped');
  t.equal(a[a.indexOf('--uid') + 1], String(NOBODY), 'nobody inside');
  t.notOk(a.includes('--share-net'), 'the network namespace stays unshared: no network');
  const ro = pairsOf(a, '--ro-bind');
  const rw = pairsOf(a, '--bind');
  t.same(rw, [['/tmp/out', '/tmp/out']], 'the only writable host path is the output directory');
  t.same(ro.map(([s]) => s).sort(), ['/tmp/x/db', '/usr'], "read-only: the host's /usr and the input, nothing else (no /etc, no /home, no /var)");
  t.same(a.slice(a.lastIndexOf('--') + 1), ['/usr/bin/sqlite3', '-readonly', '/tmp/x/db'], 'the tool and its arguments unchanged, after --');
  const nobody = sandboxArgv(['/usr/bin/true'], { inputs: [], user: 'nobody' });
  t.same(nobody.slice(0, 2), ['setpriv', `--reuid=${NOBODY}`], "nobody: bwrap itself starts as uid 65534, so nothing inside is root's on the host");
  t.ok(nobody.indexOf('setpriv') < nobody.indexOf('bwrap'), 'setpriv before bwrap');
  t.throws(() => sandboxArgv(['sqlite3'], { inputs: [], user: 'nobody' }), /absolute path/, 'a tool by absolute path only');
  t.throws(() => sandboxArgv(['/usr/bin/true'], { inputs: ['/'], user: 'nobody' }), /bad sandbox path/, 'the host root is never an input');
});

const HAVE_BWRAP = which('bwrap') ? false : 'no bwrap on this host (apt-get install bubblewrap)';

t.test('inside: the input is visible, a host canary file is not, and nothing runs as root', { skip: HAVE_BWRAP }, async (t) => {
  const dir = tempDir(t);
  const input = join(dir, 'input');
  writeFileSync(input, 'the input\n');
  chownSync(dir, NOBODY, NOBODY);
  chownSync(input, NOBODY, NOBODY);
  const canaryDir = tempDir(t);
  const canary = join(canaryDir, 'canary');
  writeFileSync(canary, 'host secret\n', { mode: 0o644 });
  const box = { inputs: [input], user: 'nobody' as const };
  const bounds = { stage: 'image' as const, what: 'cat on input', timeoutMs: 20_000, maxOutputBytes: 1024 };
  t.equal((await runSandboxed(['cat', input], box, bounds)).stdout, 'the input\n', 'the input is read');
  const peek = await runSandboxed(['cat', canary], box, bounds);
  t.not(peek.exitCode, 0, 'the canary cannot be read');
  t.notMatch(peek.stdout, /host secret/);
  t.match(peek.stderr, /No such file/, 'it is not there at all, not merely forbidden');
  for (const p of ['/etc/shadow', '/root', '/var/lib/containers', '/home']) {
    t.not((await runSandboxed(['ls', '-d', p], box, bounds)).exitCode, 0, `${p} is not there`);
  }
  const id = (await runSandboxed(['cat', '/proc/self/status'], box, { ...bounds, maxOutputBytes: 64 * 1024 })).stdout;
  t.match(id, /^CapEff:\s+0+$/m, 'no effective capability');
  t.match(id, /^CapBnd:\s+0+$/m, 'none can be gained either');
  const w = await runSandboxed(['sh', '-c', `echo x > ${input}`], box, bounds);
  t.not(w.exitCode, 0, 'the input is read-only');
  t.equal(readFileSync(input, 'utf8'), 'the input\n');
});

t.test('inside: no network, not even the host loopback', { skip: HAVE_BWRAP }, async (t) => {
  let connected = 0;
  const server: Server = createServer((s) => {
    connected++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const bounds = { stage: 'image' as const, what: 'bash on nothing', timeoutMs: 20_000, maxOutputBytes: 64 * 1024 };
  // The listener is real: the same probe outside the sandbox reaches it.
  const probe = `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`;
  const inside = await runSandboxed(['bash', '-c', probe], { inputs: [], user: 'nobody' }, bounds);
  t.not(inside.exitCode, 0, 'the connection fails inside');
  t.notMatch(inside.stdout, /connected/);
  const links = await runSandboxed(['cat', '/proc/net/dev'], { inputs: [], user: 'nobody' }, bounds);
  t.same(links.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]), ['lo'], 'a network namespace of its own: only its own loopback');
  t.equal(connected, 0, 'the host listener saw nothing');
});

t.test('a tool that does not end is stopped at its deadline, with one line naming it and its input; nothing left running', { skip: HAVE_BWRAP }, async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  chownSync(dir, NOBODY, NOBODY);
  const started = Date.now();
  const err = await runSandboxed(['sh', '-c', `echo $$ > ${pidFile}; while :; do :; done`], { inputs: [], outputs: [dir], user: 'nobody' }, { stage: 'disk', what: 'spin on /dev/null', timeoutMs: 1_500, maxOutputBytes: 1024 }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.equal(err?.name, 'UsageError');
  t.match(err?.message, /^spin on \/dev\/null: timed out after 1500 ms: a hostile or broken input$/);
  t.ok(Date.now() - started < 30_000, 'ended by the deadline, not by the test runner');
  // Its pid is of its own pid namespace: look for the spinning script by its unique command line.
  const left = spawnSync('pgrep', ['-f', `echo \\$\\$ > ${pidFile}`], { encoding: 'utf8' });
  t.equal(left.status, 1, `no process of it is left (pgrep: ${left.stdout.trim() || 'none'})`);
});

t.test('a file the tool writes stops at the size limit', { skip: HAVE_BWRAP }, async (t) => {
  const dir = tempDir(t);
  chownSync(dir, NOBODY, NOBODY);
  const r = await runSandboxed(['dd', 'if=/dev/zero', `of=${join(dir, 'big')}`, 'bs=64k', 'count=100'], { inputs: [], outputs: [dir], user: 'nobody', maxFileBytes: 1024 * 1024 }, { stage: 'disk', what: 'dd on zeros', timeoutMs: 20_000, maxOutputBytes: 64 * 1024 });
  t.not(r.exitCode, 0, 'dd fails (SIGXFSZ / EFBIG) at the limit');
  t.ok(statSync(join(dir, 'big')).size <= 1024 * 1024, 'no more than the limit was written');
});

t.test('root-reader: reads a tree of any owner as it is, and can do nothing else a root could', { skip: HAVE_BWRAP }, async (t) => {
  const a = sandboxArgv(['/usr/sbin/mke2fs'], { inputs: ['/tmp/tree'], outputs: ['/tmp/out.img'], user: 'root-reader' });
  t.notOk(a.includes('--unshare-all') || a.includes('--uid'), 'no user namespace: the owners in the tree stay what they are');
  for (const f of ['--unshare-net', '--unshare-pid', '--unshare-ipc', '--new-session', '--die-with-parent']) t.ok(a.includes(f), f);
  t.same([a[a.indexOf('--cap-drop') + 1], a[a.indexOf('--cap-add') + 1]], ['ALL', 'CAP_DAC_READ_SEARCH'], 'one capability kept: reading');

  const dir = tempDir(t);
  const tree = join(dir, 'tree');
  const secret = join(tree, 'private', 'file');
  spawnSync('mkdir', ['-p', join(tree, 'private')]);
  writeFileSync(secret, 'only its owner may read this\n', { mode: 0o600 });
  chownSync(secret, 1234, 1234);
  chownSync(join(tree, 'private'), 1234, 1234);
  spawnSync('chmod', ['0700', join(tree, 'private')]);
  const out = join(dir, 'out');
  spawnSync('mkdir', [out]);
  const box = { inputs: [tree], outputs: [out], user: 'root-reader' as const };
  const bounds = { stage: 'disk' as const, what: 'a reader on the tree', timeoutMs: 20_000, maxOutputBytes: 64 * 1024 };
  t.equal((await runSandboxed(['cat', secret], box, bounds)).stdout, 'only its owner may read this\n', "a 0600 file of another owner in a 0700 directory is read");
  t.equal((await runSandboxed(['stat', '-c', '%u:%g', secret], box, bounds)).stdout.trim(), '1234:1234', 'and its owner is seen as it is');
  t.equal((await runSandboxed(['cp', secret, join(out, 'copy')], box, bounds)).exitCode, 0, 'the output directory is writable');
  const status = (await runSandboxed(['cat', '/proc/self/status'], box, bounds)).stdout;
  t.match(status, /^CapEff:\s+0+4$/m, 'effective: CAP_DAC_READ_SEARCH alone (bit 2)');
  t.match(status, /^CapPrm:\s+0+4$/m, 'permitted: the same one');
  // Root's uid would regain every capability on execve; no_new_privs (bwrap sets it) caps an exec at what it had.
  t.match(status, /^NoNewPrivs:\s+1$/m, 'and no exec can gain more');
  const chown = await runSandboxed(['chown', '1234:1234', join(out, 'copy')], box, bounds);
  t.not(chown.exitCode, 0, 'no chown (CAP_CHOWN dropped)');
  t.equal(statSync(join(out, 'copy')).uid, 0, "its own output is root's (the caller's), as it should be");
  const w = await runSandboxed(['sh', '-c', `echo x > ${join(tree, 'private', 'new')}`], box, bounds);
  t.not(w.exitCode, 0, 'the tree is read-only, even to root');
  for (const p of ['/etc/shadow', '/root', '/var/lib/containers']) t.not((await runSandboxed(['ls', '-d', p], box, bounds)).exitCode, 0, `${p} is not there`);
  const links = await runSandboxed(['cat', '/proc/net/dev'], box, bounds);
  t.same(links.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]), ['lo'], 'no network: its own loopback only');
});

t.test('a tool outside /usr (a wrapper beside its libraries) is found inside: its directory comes along, read-only', { skip: HAVE_BWRAP }, async (t) => {
  const dir = tempDir(t);
  const wrapper = join(dir, 'tool');
  writeFileSync(wrapper, `#!/bin/sh\necho "from $(dirname "$0")"; echo x > "$(dirname "$0")/written" || echo read-only\n`, { mode: 0o755 });
  const r = await runSandboxed([wrapper], { inputs: [], user: 'root-reader' }, { stage: 'disk', what: 'the wrapper', timeoutMs: 20_000, maxOutputBytes: 4096 });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout, `from ${dir}\nread-only\n`, 'it runs from where it is, and cannot write there');
});

t.test('tree readers: sandboxed where the host lets them keep their capability; where not (Ubuntu 25.04+ AppArmor), on the host, said once, still bounded', { skip: HAVE_BWRAP }, async (t) => {
  const { runTreeReader, rootReaderHasCapability } = await import('../src/util/sandbox.js');
  t.equal(await rootReaderHasCapability(), true, 'here (Debian, no AppArmor profile for bwrap) the probe reads a sealed file of nobody\'s');
  const dir = tempDir(t);
  const input = join(dir, 'tree');
  spawnSync('mkdir', [input]);
  const outside = join(tempDir(t), 'host-file');
  writeFileSync(outside, 'outside the tree\n');
  const bounds = { stage: 'image' as const, what: 'cat on the tree', timeoutMs: 20_000, maxOutputBytes: 4096 };
  t.not((await runTreeReader(['cat', outside], { inputs: [input] }, bounds)).exitCode, 0, 'sandboxed: a host file beside the tree is not there');
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const denied = async () => false;
    t.equal((await runTreeReader(['cat', outside], { inputs: [input] }, bounds, denied)).stdout, 'outside the tree\n', 'where the capability is denied: run on the host');
    await runTreeReader(['true'], { inputs: [input] }, bounds, denied);
    await t.rejects(runTreeReader(['sh', '-c', 'sleep 30'], { inputs: [input] }, { ...bounds, timeoutMs: 300 }, denied), /timed out .*a hostile or broken input/, 'with its deadline still');
    const big = await runTreeReader(['sh', '-c', `head -c 8192 /dev/zero > ${join(dir, 'big')}`], { inputs: [input], maxFileBytes: 4096 }, bounds, denied);
    t.not(big.exitCode, 0, 'and its file-size limit (prlimit)');
  } finally {
    process.stderr.write = write;
  }
  t.equal(stderr.filter((l) => /read the image tree unsandboxed/.test(l)).length, 1, 'one line says so, once per process');
});
