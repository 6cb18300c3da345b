// "The guest fell silent" only when it is true: a guest whose sshd answers but refuses the
// harness (its key refused; OpenSSH's "Not allowed at this time" penalty after repeated
// failures) is the image's fault, named as that and never retried; only a guest that says
// nothing at all is the infrastructure's. Real sockets: ssh2's Server stands in for sshd.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { AssertionFailure, InfraError } from '../src/errors.js';
import { Machine } from '../src/machine.js';
import { isRetriable } from '../src/run/retry.js';
import { readSshBanner } from '../src/ssh/banner.js';
import { guestFallsSilent, lastWords } from '../src/ssh/boot-watch.js';
import { SshRefusals } from '../src/ssh/refusals.js';
import type { Vm } from '../src/vm/vm.js';
import { alive } from './helpers/alive.js';

class FakeConsole extends EventEmitter {
  lastOutputAt = Date.now();
  constructor(private text: string) {
    super();
  }
  lastLine() {
    return this.text.split('\n').at(-1) ?? '';
  }
  tail() {
    return this.text;
  }
}

const fakeVm = (consoleText: string) => ({ console: new FakeConsole(consoleText), status: async () => 'running' }) as unknown as Vm;

const dir = mkdtempSync(join(tmpdir(), 'bh-refusal-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
for (const k of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);

/** What sshd writes to a connection from a penalised source (openssh-portable sshd.c, drop_connection()). */
const NOT_ALLOWED = 'Not allowed at this time\r\n';

/**
 * sshd with an authorized_keys it cannot read: every key refused. After `penaltyAfter` refused
 * connections it drops new ones with "Not allowed at this time", as PerSourcePenalties does.
 */
async function refusingSshd(penaltyAfter = Infinity): Promise<{ port: number; refusedAuth: () => number; close: () => void }> {
  let refused = 0;
  const sshd = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'host'))] }, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method === 'publickey') refused++;
      ctx.reject(['publickey']);
    });
    client.on('error', () => undefined);
  });
  // In front of it, the penalty: a plain listener that hands connections on until the limit.
  const front = createServer((sock: Socket) => {
    if (refused >= penaltyAfter) return sock.end(NOT_ALLOWED);
    sshd.injectSocket(sock);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return { port: (front.address() as { port: number }).port, refusedAuth: () => refused, close: () => front.close() };
}

function listen(onConnect: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(onConnect).listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

/** Waits for readiness as run/boot.ts does: the attempts and the silence watch share one record. */
function waitAsBootDoes(port: number, consoleText: string, silenceMs: number) {
  const refusals = new SshRefusals();
  const watch = new AbortController();
  const vm = fakeVm(consoleText);
  return alive(
    Machine.waitReady({ port, privateKeyPath: join(dir, 'client'), bootMs: 20_000, refusals, race: () => guestFallsSilent(vm, port, silenceMs, watch.signal, refusals) }).finally(() => watch.abort()),
  );
}

t.test('an sshd that refuses the key is named as refusing, the image\'s fault, not a silent guest', async (t) => {
  const sshd = await refusingSshd();
  t.teardown(sshd.close);
  const started = Date.now();
  const err = await waitAsBootDoes(sshd.port, 'Debian GNU/Linux 13 vm ttyS0\n\nvm login: ', 1_500).catch((e) => e);
  t.type(err, AssertionFailure, 'an assertion failure: exit 1');
  t.notOk(isRetriable(err), 'never retried as infrastructure');
  t.match(err.message, /sshd answers but refuses the harness: it refused the harness's key \d+ times \("All configured authentication methods failed"/);
  t.match(err.message, /authorized_keys a regular file sshd can read/, 'says what to look at');
  t.match(err.message, /last words: "vm login:"/, 'quotes the unterminated last line');
  t.notMatch(err.message, /fell silent/);
  t.ok(sshd.refusedAuth() >= 2, `the key was really refused (${sshd.refusedAuth()} times)`);
  t.ok(Date.now() - started < 10_000, 'at the silence deadline, not at the end of the SSH budget');
});

t.test('OpenSSH\'s "Not allowed at this time" after repeated failures is named as the penalty', async (t) => {
  const sshd = await refusingSshd(2);
  t.teardown(sshd.close);
  const err = await waitAsBootDoes(sshd.port, '[  OK  ] Reached target multi-user.target - Multi-User System.', 2_000).catch((e) => e);
  t.type(err, AssertionFailure);
  t.match(err.message, /refused the harness's key 2 times/, 'the refusals that earned the penalty');
  t.match(err.message, /it now answers "Not allowed at this time" \(OpenSSH's PerSourcePenalties/, 'and the penalty itself');
});

t.test('a server that sends only the penalty text: refused, not "no identification"', async (t) => {
  const { server, port } = await listen((s) => s.end(NOT_ALLOWED));
  t.teardown(() => server.close());
  const r = await readSshBanner(port, 2_000);
  t.same('refused' in r && r.refused, true, 'the banner read knows the refusal');
  t.match('closed' in r ? r.closed : '', /"Not allowed at this time" instead of an identification/);
  // Without any refusal noted by the attempts, the watch alone still names it.
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const err = await alive(guestFallsSilent(fakeVm('vm login: '), port, 300, ac.signal, new SshRefusals())).catch((e) => e);
  t.type(err, AssertionFailure);
  t.match(err.message, /refuses the harness: it now answers "Not allowed at this time"/);
});

t.test('only a guest that answers nothing fell silent (infrastructure), quoted by its last words', async (t) => {
  const { server, port } = await listen(() => undefined);
  await new Promise((r) => server.close(r));
  const refusals = new SshRefusals();
  // A refusal long before the quiet spell (a key that arrived late) is no cause now.
  refusals.noteAuthRefused(Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }), Date.now() - 600_000);
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const consoleText = 'Please configure your system!\n\n-- Press any key to proceed --\n[   19.640000] kvm_amd: PMU virtualization is disabled';
  const err = await alive(guestFallsSilent(fakeVm(consoleText), port, 300, ac.signal, refusals)).catch((e) => e);
  t.type(err, InfraError);
  t.ok(isRetriable(err), 'the one infrastructure retry applies');
  t.match(err.message, /fell silent/);
  t.match(err.message, /last words: "-- Press any key to proceed --", then kernel messages up to "\[   19\.640000\] kvm_amd/, 'what userspace said last, not only the kernel line after it');
});

t.test('lastWords: the last line, the unterminated one included; a trailing kernel line adds what came before it', async (t) => {
  t.equal(lastWords('a\nb\nvm login: '), '"vm login:"');
  t.equal(lastWords('[    1.0] x\n[    2.0] y'), '"[    2.0] y"', 'only kernel lines: the last one');
  t.equal(lastWords('prompt\n[    2.0] y\n\n'), '"prompt", then kernel messages up to "[    2.0] y"');
  t.equal(lastWords(''), '""');
});
