import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TeardownError, UsageError } from '../src/errors.js';
import { Teardown } from '../src/util/teardown.js';
import { DeadlineExceeded, poll, withDeadline, type PollStep } from '../src/util/deadline.js';
import { mirrorsFromAptSources } from '../src/util/mirror.js';
import { TOOL_PACKAGES, requireTools, which } from '../src/util/tools.js';
import { run } from '../src/util/exec.js';
import { socketAppears, startDaemon } from '../src/vm/daemon.js';
import { swtpmArgs } from '../src/vm/swtpm.js';
import { alive } from './helpers/alive.js';

const never = () => new Promise<never>(() => {});


// ---------------------------------------------------------------- Teardown

t.test('Teardown runs steps in reverse order, once', async (t) => {
  const td = new Teardown();
  const order: string[] = [];
  td.defer('a', () => void order.push('a'));
  td.defer('b', async () => {
    await new Promise((r) => setImmediate(r));
    order.push('b');
  });
  td.defer('c', () => void order.push('c'));
  t.equal(td.size, 3);
  t.same(await td.run(), [], 'no errors');
  t.same(order, ['c', 'b', 'a'], 'last registered, first run; async steps awaited');
  t.equal(td.size, 0);
  t.same(await td.run(), [], 'a second run does nothing more');
  t.same(order, ['c', 'b', 'a'], 'no step ran twice');
});

t.test('Teardown continues past a failing step and reports every error', async (t) => {
  const td = new Teardown();
  const order: string[] = [];
  td.defer('stop qemu', () => void order.push('qemu'));
  td.defer('stop swtpm', () => {
    order.push('swtpm');
    throw new Error('socket busy');
  });
  td.defer('remove container', async () => {
    order.push('container');
    throw new Error('buildah rm failed');
  });
  const errors = await td.run();
  t.same(order, ['container', 'swtpm', 'qemu'], 'every step ran');
  t.same(
    errors.map((e) => e.message),
    ['teardown remove container: buildah rm failed', 'teardown stop swtpm: socket busy'],
  );
  t.equal((errors[1]!.cause as Error).message, 'socket busy', 'the original error is the cause');
});

t.test('Teardown.run is idempotent while running: both callers share one run', async (t) => {
  const td = new Teardown();
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  td.defer('slow', async () => {
    calls++;
    await gate;
  });
  const first = td.run();
  const second = td.run();
  t.equal(first, second, 'the same promise');
  release();
  await Promise.all([first, second]);
  t.equal(calls, 1, 'the step ran once');
});

t.test('runOrThrow / asyncDispose throw a TeardownError with every failure', async (t) => {
  const td = new Teardown();
  td.defer('x', () => {
    throw new Error('one');
  });
  td.defer('y', () => {
    throw new Error('two');
  });
  const err = await td.runOrThrow().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, TeardownError);
  t.equal((err as TeardownError).errors.length, 2);
  t.equal((err as Error).message, 'teardown y: two; teardown x: one');

  const ok = new Teardown();
  ok.defer('fine', () => {});
  await t.resolves(ok[Symbol.asyncDispose](), 'no failure, no throw');
});

t.test("defer's early-run function runs the step and removes it", async (t) => {
  const td = new Teardown();
  const order: string[] = [];
  td.defer('a', () => void order.push('a'));
  const early = td.defer('b', () => void order.push('b'));
  td.defer('c', () => void order.push('c'));
  await early();
  t.same(order, ['b'], 'ran now');
  t.equal(td.size, 2, 'removed from the list');
  await early();
  t.same(order, ['b'], 'a second early run is a no-op');
  await td.run();
  t.same(order, ['b', 'c', 'a'], 'not run again at teardown; the others still are');

  // An early run that fails throws to its caller.
  const td2 = new Teardown();
  const bad = td2.defer('bad', () => {
    throw new Error('nope');
  });
  await t.rejects(bad(), { message: 'nope' });
  t.equal(td2.size, 0, 'removed even though it failed');
});

// ---------------------------------------------------------------- deadlines

t.test('withDeadline resolves and rejects with the promise', async (t) => {
  t.equal(await withDeadline(Promise.resolve(42), 1000, 'answer'), 42);
  await t.rejects(withDeadline(Promise.reject(new Error('boom')), 1000, 'x'), { message: 'boom' }, 'the original error, not a deadline');
});

t.test('withDeadline rejects with DeadlineExceeded naming what and the budget', async (t) => {
  const started = Date.now();
  const err = await alive(withDeadline(never(), 40, 'ssh on 127.0.0.1:2222')).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, DeadlineExceeded);
  const d = err as DeadlineExceeded;
  t.equal(d.what, 'ssh on 127.0.0.1:2222');
  t.equal(d.budgetMs, 40);
  t.equal(d.name, 'DeadlineExceeded');
  t.match(d.message, /^ssh on 127\.0\.0\.1:2222: no result within /);
  t.ok(Date.now() - started >= 35, 'not before the budget');
  t.equal(new DeadlineExceeded('boot', 90_000).message, 'boot: no result within 90 s', 'budget in seconds');
});

t.test('withDeadline rejects on abort, with the reason', async (t) => {
  const ac = new AbortController();
  const p = withDeadline(never(), 10_000, 'waiting');
  const q = withDeadline(never(), 10_000, 'waiting', ac.signal);
  const reason = new UsageError('interrupted by SIGINT');
  ac.abort(reason);
  await t.rejects(q, reason);
  void p.catch(() => {}); // its timer is unref'd, so it does not hold the test open

  const pre = new AbortController();
  pre.abort(new Error('already'));
  await t.rejects(withDeadline(Promise.resolve(1), 1000, 'x', pre.signal), { message: 'already' }, 'an already-aborted signal wins');
});

t.test('poll retries with backoff until done and returns the value', async (t) => {
  const times: number[] = [];
  const value = await poll(
    async (): Promise<PollStep<string>> => {
      times.push(Date.now());
      return times.length < 4 ? { done: false, diagnostic: `try ${times.length}` } : { done: true, value: 'ready' };
    },
    { what: 'unit', budgetMs: 5000, initialDelayMs: 10, maxDelayMs: 40 },
  );
  t.equal(value, 'ready');
  t.equal(times.length, 4, 'four attempts');
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  t.ok(gaps[0]! >= 8, `first gap ~10 ms (${gaps[0]})`);
  t.ok(gaps[1]! >= 18, `second gap ~20 ms (${gaps[1]})`);
  t.ok(gaps[2]! >= 38, `third gap ~40 ms (${gaps[2]})`);
});

t.test('poll caps the delay at maxDelayMs', async (t) => {
  const times: number[] = [];
  await poll(
    async (): Promise<PollStep<void>> => {
      times.push(Date.now());
      return times.length < 5 ? { done: false, diagnostic: 'no' } : { done: true, value: undefined };
    },
    { what: 'x', budgetMs: 5000, initialDelayMs: 20, maxDelayMs: 25 },
  );
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  t.ok(
    gaps.slice(1).every((g) => g < 200),
    `later gaps stay near the 25 ms cap, not 40/80/160 (${gaps.join(', ')})`,
  );
  t.ok(gaps[3]! < 120, `fourth gap is capped (${gaps[3]}), uncapped it would be 160`);
});

t.test('poll gives up with DeadlineExceeded carrying the last diagnostic', async (t) => {
  let n = 0;
  const err = await poll(
    async (): Promise<PollStep<never>> => ({ done: false, diagnostic: `systemctl is-system-running: starting (${++n})` }),
    { what: 'boot', budgetMs: 120, initialDelayMs: 10, maxDelayMs: 20 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, DeadlineExceeded);
  t.equal((err as DeadlineExceeded).what, 'boot');
  t.equal((err as DeadlineExceeded).budgetMs, 120);
  t.ok(n >= 2, `retried (${n} attempts)`);
  t.match((err as Error).message, new RegExp(`; last try: systemctl is-system-running: starting \\(${n}\\)$`), 'the last attempt, not an earlier one');
});

t.test('poll: an attempt that hangs past the budget still ends with the last diagnostic', async (t) => {
  let n = 0;
  const err = await alive(
    poll(
      async (): Promise<PollStep<never>> => {
        n++;
        if (n === 1) return { done: false, diagnostic: 'connection refused' };
        return never();
      },
      { what: 'ssh', budgetMs: 100, initialDelayMs: 5 },
    ),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, DeadlineExceeded);
  t.match((err as Error).message, /^ssh: no result within .*; last try: connection refused$/);
});

t.test('poll propagates an error thrown by the attempt at once', async (t) => {
  let n = 0;
  const started = Date.now();
  const err = await poll(
    async (): Promise<PollStep<never>> => {
      n++;
      if (n === 2) throw new UsageError('unit ssh.service failed');
      return { done: false, diagnostic: 'activating' };
    },
    { what: 'ssh.service', budgetMs: 10_000, initialDelayMs: 5 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, UsageError, 'the attempt error itself');
  t.equal((err as Error).message, 'unit ssh.service failed');
  t.equal(n, 2, 'no retry after a throw');
  t.ok(Date.now() - started < 2000, 'long before the budget');
});

t.test('poll stops when the signal aborts', async (t) => {
  const ac = new AbortController();
  let n = 0;
  const p = poll(
    async (): Promise<PollStep<never>> => {
      if (++n === 2) ac.abort(new Error('stop'));
      return { done: false, diagnostic: 'x' };
    },
    { what: 'x', budgetMs: 10_000, initialDelayMs: 5, signal: ac.signal },
  );
  await t.rejects(p, { message: 'stop' });
  t.equal(n, 2);
});

// ---------------------------------------------------------------- mirrors

t.test('mirrorsFromAptSources: deb822 URIs lines', async (t) => {
  const debianSources = [
    'Types: deb',
    'URIs: http://deb.debian.org/debian',
    'Suites: trixie trixie-updates',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb',
    'URIs: http://deb.debian.org/debian-security',
    'Suites: trixie-security',
    'Components: main',
    '',
  ].join('\n');
  t.same(mirrorsFromAptSources([debianSources]), ['http://deb.debian.org/debian'], 'security skipped');
  t.same(mirrorsFromAptSources(['types: deb\nuris: https://mirror.example.org/debian/ http://ftp.de.debian.org/debian\nsuites: trixie\ncomponents: main\n']), [
    'http://ftp.de.debian.org/debian',
    'https://mirror.example.org/debian',
  ], 'several URIs on one line, case-insensitive keys, trailing slash dropped, debian.org hosts first');
  t.same(mirrorsFromAptSources(['URIs: http://deb.debian.org/debian\n']), [], 'a stanza without type, suite and components is not an archive');
});

t.test('mirrorsFromAptSources: one-line deb lines', async (t) => {
  const list = [
    '# deb http://commented.example/debian trixie main',
    'deb http://ftp.us.debian.org/debian/ bookworm main contrib',
    'deb-src http://src.example.org/debian bookworm main',
    'deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] https://mirror.example.net/debian bookworm-updates main',
    'deb http://security.debian.org/debian-security bookworm-security main',
    '  deb http://ftp.us.debian.org/debian bookworm-backports main',
  ].join('\n');
  t.same(mirrorsFromAptSources([list]), ['http://ftp.us.debian.org/debian', 'https://mirror.example.net/debian'], 'options skipped, comments and deb-src ignored, duplicates removed');
});

t.test('mirrorsFromAptSources: non-Debian archives are skipped', async (t) => {
  const texts = [
    'deb [signed-by=/usr/share/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main\n',
    'Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: trixie\nComponents: stable\n',
    'Types: deb\nURIs: https://pkgs.tailscale.com/stable/debian\nSuites: trixie\n',
    'deb http://deb.debian.org/debian trixie main\n',
  ];
  const found = mirrorsFromAptSources(texts);
  t.notOk(found.some((u) => u.includes('nodesource')), 'nodesource is not a mirror');
  t.ok(found.includes('http://deb.debian.org/debian'), 'the real mirror is found');
  // Third-party repos whose path ends in /debian (docker, tailscale) look like mirrors to the URI test;
  // hostDebianMirror() takes the first one, so such a host would bootstrap from docker's repo.
  t.same(found, ['http://deb.debian.org/debian'], 'only the Debian archive');
  t.same(mirrorsFromAptSources(['deb https://deb.nodesource.com/node_20.x nodistro main\n']), [], 'only nodesource: nothing');
  t.same(mirrorsFromAptSources([]), []);
});

// ---------------------------------------------------------------- tools

t.test('requireTools names the missing tool and its Debian package', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'bootc-harness-path-'));
  const saved = process.env.PATH;
  t.teardown(() => {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  });
  process.env.PATH = empty;

  let err: unknown;
  try {
    requireTools(['qemu-img']);
  } catch (e) {
    err = e;
  }
  t.type(err, UsageError);
  t.equal((err as Error).message, 'missing host tool qemu-img (install Debian package qemu-utils; or run: just setup)');

  try {
    requireTools(['mcopy', 'mmd', 'bootc-harness-no-such-tool']);
    err = undefined;
  } catch (e) {
    err = e;
  }
  t.type(err, UsageError);
  t.equal(
    (err as Error).message,
    'missing host tools mcopy, mmd, bootc-harness-no-such-tool (install Debian package mtools, bootc-harness-no-such-tool; or run: just setup)',
    'every tool named, packages de-duplicated, unknown tools named as themselves',
  );
  t.notMatch((err as Error).message, /\n/, 'one line');

  // A tool that is there (and executable) passes; a non-executable file does not count.
  writeFileSync(join(empty, 'sfdisk'), '#!/bin/sh\n');
  chmodSync(join(empty, 'sfdisk'), 0o755);
  writeFileSync(join(empty, 'getcap'), 'not executable');
  chmodSync(join(empty, 'getcap'), 0o644);
  t.doesNotThrow(() => requireTools(['sfdisk']));
  t.equal(which('sfdisk'), join(empty, 'sfdisk'));
  t.throws(() => requireTools(['getcap']), { message: /getcap \(install Debian package libcap2-bin;/ }, 'not executable, even for root');
  t.equal(which('sfdisk', ''), undefined, 'an empty PATH finds nothing');
  t.doesNotThrow(() => requireTools([]), 'nothing required, nothing missing');
  t.equal(TOOL_PACKAGES['qemu-system-x86_64'], 'qemu-system-x86');
});

t.test('Teardown: a step deferred after a finished run runs on the next call', async (t) => {
  const td = new Teardown();
  const order: string[] = [];
  td.defer('first', () => {
    order.push('first');
  });
  await td.run();
  td.defer('late', () => {
    order.push('late');
  });
  await td.run();
  t.same(order, ['first', 'late']);
});

t.test('DeadlineExceeded names sub-second budgets in ms', async (t) => {
  t.equal(new DeadlineExceeded('probe', 300).message, 'probe: no result within 300 ms');
  t.equal(new DeadlineExceeded('boot', 300_000).message, 'boot: no result within 300 s');
});

// ---------------------------------------------------------------- run: cancelling

/** Running, as opposed to gone or a zombie (an orphan's reaper may not have collected it yet). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

t.test('run: cancelling stops the tool and every process it forked, and says cancelled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-run-cancel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'worker.pid');
  // A tool whose worker outlives a SIGTERM to the parent alone and holds its stdout open (as mmdebstrap's do).
  const script = `trap '' TERM; sleep 600 & echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait`;
  const ac = new AbortController();
  const done = run(['sh', '-c', script], { stage: 'image', signal: ac.signal });
  await withDeadline(socketAppears(pidFile), 10_000, 'worker pid file');
  const worker = Number(readFileSync(pidFile, 'utf8'));
  ac.abort();
  await t.rejects(withDeadline(done, 15_000, 'cancelled run'), /sh: cancelled/);
  t.notOk(running(worker), `the forked worker ${worker} is gone too (dead or a zombie awaiting its reaper)`);
});

t.test('run: an already-aborted signal starts nothing', async (t) => {
  const ac = new AbortController();
  ac.abort();
  await t.rejects(run(['true'], { stage: 'image', signal: ac.signal }), /true: cancelled/);
});

// ---------------------------------------------------------------- startDaemon

t.test('startDaemon: ready once its socket exists; stop ends it and removes the socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'tpm.sock');
  mkdirSync(join(dir, 'state'));
  const d = await startDaemon(swtpmArgs(join(dir, 'state'), socket), { sockets: [socket], what: 'swtpm', stage: 'vm' });
  t.ok(existsSync(socket), 'listening');
  t.ok(d.pid !== undefined && running(d.pid), 'running');
  await Promise.all([d.stop(), d.stop()]);
  t.notOk(running(d.pid!), 'stopped');
  t.notOk(existsSync(socket), 'socket removed');
});

t.test('startDaemon: a daemon that exits first is named with its last words', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(
    startDaemon(['sh', '-c', 'echo "no such shared dir" >&2; exit 1'], { sockets: [join(dir, 'x.sock')], what: 'virtiofsd', stage: 'disk' }),
    /virtiofsd exited before listening: no such shared dir/,
  );
});

t.test('the leftover check fails when a tool it relies on cannot answer, instead of finding nothing', async (t) => {
  const { findLeftovers } = await import('../src/run/leftovers.js');
  const empty = mkdtempSync(join(tmpdir(), 'bh-nopath-'));
  const path = process.env.PATH;
  process.env.PATH = empty;
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(empty, { recursive: true, force: true });
  });
  await t.rejects(findLeftovers(), /buildah/);
});

t.test('a fixture build tree in progress is not a leftover; one whose builder is gone is', async (t) => {
  const { buildAlive } = await import('../src/run/leftovers.js');
  const tree = '/var/cache/bootc-harness/fixtures/zfs-15272589a0f113c9.tmp-28201-1796009081240/rootfs/proc';
  t.equal(buildAlive(tree, (pid) => pid === 28201), true, 'its builder runs: a build in progress');
  t.equal(buildAlive(tree, () => false), false, 'its builder is gone: left behind');
  t.equal(buildAlive('/var/cache/bootc-harness/fixtures/zfs-15272589a0f113c9/rootfs/proc', () => true), false, 'a complete entry has no builder: a mount there is left behind');
});
