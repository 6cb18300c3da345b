// A boot that stalls is named within a minute, as the infrastructure's failure, and
// retried once; a quiet console with a live sshd, or an assertion, is neither.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import { AssertionFailure, InfraError, UsageError } from '../src/errors.js';
import { guestFallsSilent } from '../src/ssh/boot-watch.js';
import { retryInfraOnce, type Retry } from '../src/run/retry.js';
import { overlayArgs } from '../src/vm/overlay.js';
import { tapCosts } from '../scripts/tap-costs.js';
import type { Vm } from '../src/vm/vm.js';
import { alive } from './helpers/alive.js';

class FakeConsole extends EventEmitter {
  lastOutputAt = Date.now();
  last = '';
  write(line: string) {
    this.last = line;
    this.lastOutputAt = Date.now();
    this.emit('output');
  }
  lastLine() {
    return this.last;
  }
  tail() {
    return this.last;
  }
}

function fakeVm(status = 'running') {
  const console = new FakeConsole();
  return { vm: { console, status: async () => status } as unknown as Vm, console };
}

function listen(onConnect: (s: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(onConnect).listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}


/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const { server, port } = await listen(() => undefined);
  await new Promise((r) => server.close(r));
  return port;
}

t.test('a guest with no console output and no SSH identification is named as silent, with what QEMU says', async (t) => {
  const { vm, console } = fakeVm('running');
  console.write('Debian GNU/Linux 13 vm ttyS0');
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const started = Date.now();
  const err = await alive(guestFallsSilent(vm, await deadPort(), 300, ac.signal)).catch((e) => e);
  t.type(err, InfraError, 'the infrastructure, not the image');
  t.equal((err as InfraError).stage, 'session');
  t.match(err.message, /fell silent: no console output for \d+ s/);
  t.match(err.message, /last words: "Debian GNU\/Linux 13 vm ttyS0"/, 'names the last thing the guest said');
  t.match(err.message, /no SSH identification on 127\.0\.0\.1:\d+/);
  t.match(err.message, /QEMU status "running"/, "and QEMU's own status");
  t.ok(Date.now() - started < 3_000, 'within the silence window (plus one banner probe), not a budget');
});

t.test('console output re-arms the watch: a guest that keeps talking is not silent', async (t) => {
  const { vm, console } = fakeVm();
  const ac = new AbortController();
  let settled = false;
  guestFallsSilent(vm, await deadPort(), 400, ac.signal).catch(() => (settled = true));
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 150));
    console.write(`line ${i}`);
  }
  t.notOk(settled, 'never fired while lines kept coming (1.2 s with 0.4 s windows)');
  ac.abort();
});

t.test('a quiet console with sshd answering is not silent (the console has nothing more to say after the login prompt)', async (t) => {
  const { server, port } = await listen((s) => s.end('SSH-2.0-OpenSSH_10.0 test\r\n'));
  t.teardown(() => new Promise((r) => server.close(r)));
  const { vm } = fakeVm();
  const ac = new AbortController();
  let settled = false;
  guestFallsSilent(vm, port, 200, ac.signal).catch(() => (settled = true));
  await new Promise((r) => setTimeout(r, 1_000));
  t.notOk(settled, 'sshd identified itself at every check');
  ac.abort();
});

t.test('retryInfraOnce: a stalled boot or a QEMU crash is tried once more, and only once', async (t) => {
  const retries: Retry[] = [];
  const beforeRetry = async (r: Retry) => void retries.push(r);
  let n = 0;
  const v = await retryInfraOnce(async (attempt) => {
    n++;
    if (attempt === 1) throw new InfraError('session', 'the guest fell silent: no console output for 50 s\nmore');
    return 'ready';
  }, { beforeRetry });
  t.equal(v, 'ready');
  t.equal(n, 2);
  t.same(retries, [{ stage: 'session', reason: '[session] the guest fell silent: no console output for 50 s' }], 'the retry is recorded with its reason');

  await t.rejects(
    retryInfraOnce(async () => {
      throw new InfraError('vm', 'QEMU killed by SIGSEGV');
    }, { beforeRetry }),
    /SIGSEGV/,
    'a second failure fails',
  );
});

t.test('retryInfraOnce: an assertion failure, bad input, another stage or an interrupt is never retried', async (t) => {
  const cases: [string, Error, AbortSignal?][] = [
    ['assertion', new AssertionFailure('session', 'kernel panic')],
    ['usage', new UsageError('bad')],
    ['disk stage', new InfraError('disk', 'mke2fs failed')],
    ['interrupted', new InfraError('session', 'cancelled'), AbortSignal.abort()],
  ];
  for (const [what, err, signal] of cases) {
    let attempts = 0;
    await t.rejects(
      retryInfraOnce(async () => {
        attempts++;
        throw err;
      }, { signal, beforeRetry: async () => undefined }),
    );
    t.equal(attempts, 1, `${what}: one attempt`);
  }
});

t.test('a boot overlay names its backing format, so QEMU never guesses a raw disk\'s format from its contents', async (t) => {
  const a = overlayArgs({ path: '/w/disk.raw', format: 'raw' }, '/w/boot-1.qcow2');
  t.equal(a[0], 'qemu-img');
  t.ok(a.includes('-b') && a[a.indexOf('-b') + 1] === '/w/disk.raw', 'backed by the installed disk');
  t.ok(a.includes('-F') && a[a.indexOf('-F') + 1] === 'raw', 'backing format stated');
  t.equal(a.at(-1), '/w/boot-1.qcow2');
});

t.test('CI reads each test file\'s duration and the totals from tap\'s output', async (t) => {
  const out = [
    'ok 1 - harness/test/util.test.ts # time=6018.299ms',
    'not ok 2 - harness/test/e2e-tier4.test.ts # time=912345.5ms',
    '# { total: 237, pass: 230, fail: 2, skip: 5 }',
    '# { total: 10, pass: 10 }',
  ].join('\n');
  const c = tapCosts(out);
  t.same(c.files, [
    { file: 'harness/test/util.test.ts', ok: true, ms: 6018.299 },
    { file: 'harness/test/e2e-tier4.test.ts', ok: false, ms: 912345.5 },
  ]);
  t.equal(c.pass, 240);
  t.equal(c.fail, 2);
});

t.test("a guest clock far ahead of the host's is the infrastructure's, named; a normal boot is not", async (t) => {
  const { clockRanAway } = await import('../src/ssh/boot-watch.js');
  t.equal(clockRanAway(30, 41), undefined, 'uptime below the host time (the firmware ran first): normal');
  t.equal(clockRanAway(120, 41), undefined, 'somewhat ahead is tolerated');
  t.match(clockRanAway(745, 41) ?? '', /745 s of guest uptime after 41 s on the host/, 'the measured runaway is named with both figures');
});
