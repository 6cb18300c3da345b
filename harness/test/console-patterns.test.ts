import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CONSOLE_PATTERNS, describeHit, excerpt, matchLine, scanConsole, stripAnsi, type ConsoleHit } from '../src/vm/console-patterns.js';
import { ConsoleWatch } from '../src/vm/console-watch.js';

const none = new Set<string>();

/** Real console lines (kernel timestamps and systemd prefixes as they appear) and the pattern each must hit. */
const BAD: [id: string, line: string][] = [
  ['kernel-panic', '[    2.345678] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)'],
  ['kernel-panic', 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100'],
  ['kernel-warning', '[   12.000001] WARNING: CPU: 1 PID: 123 at kernel/foo.c:42 bar+0x10/0x20'],
  ['oops', '[   33.123456] Oops: 0002 [#1] PREEMPT SMP NOPTI'],
  ['oops', '[    5.000000] BUG: unable to handle page fault for address: ffffffffc0a1b000'],
  ['kernel-bug', '[    7.100000] kernel BUG at mm/slub.c:4001!'],
  ['kernel-bug', '[   50.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [kworker/0:1:42]'],
  ['emergency-shell', 'You are in emergency mode. After logging in, type "journalctl -xb" to view'],
  ['emergency-shell', '[  OK  ] Reached target emergency.target - Emergency Mode.'],
  ['emergency-shell', 'Cannot open access to console, the root account is locked.'],
  ['rescue-shell', 'You are in rescue mode. After logging in, type "journalctl -xb" to view'],
  ['dracut-refused', 'dracut: Refusing to continue'],
  ['dracut-refused', '[  190.1] dracut-initqueue[312]: Warning: dracut-initqueue: starting timeout scripts'],
  ['initramfs-shell', 'Gave up waiting for root file system device.  Common problems:'],
  ['initramfs-shell', 'ALERT!  UUID=0b1c2d3e does not exist.  Dropping to a shell!'],
  ['initramfs-shell', '(initramfs) '],
  ['ordering-cycle', '[    1.9] systemd[1]: local-fs.target: Ordering cycle found, skipping foo.mount'],
  ['ordering-cycle', 'systemd[1]: sysinit.target: Found ordering cycle on systemd-tmpfiles-setup.service/start'],
  ['oom-killer', '[  99.0] systemd-journal invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=-250'],
  ['oom-killer', 'Out of memory: Killed process 4242 (stress) total-vm:1000kB'],
  ['segfault', '[  12.5] foo[123]: segfault at 0 ip 00007f3a1c2b3d4e sp 00007ffd5e6f7a80 error 4 in libc.so.6[7f3a1c200000+155000]'],
  ['segfault', 'traps: bar[77] general protection fault ip:7f00 sp:7ffe error:0 in libfoo.so'],
  ['core-dump', 'systemd-coredump[901]: Process 900 (myd) of user 0 dumped core.'],
  ['passphrase-prompt', 'Please enter passphrase for disk root (luks-0b1c2d3e-aaaa-bbbb-cccc-123456789abc):'],
  // systemd's src/firstboot/firstboot.c print_welcome() and press_any_key()/any_key_to_proceed().
  ['firstboot-prompt', 'Please configure your system!'],
  ['firstboot-prompt', '-- Press any key to proceed --'],
  // util-linux sulogin, for a root account with no password.
  ['emergency-shell', 'Press Enter for maintenance'],
  ['tpm2-unlock-failed', 'systemd-cryptsetup[400]: Failed to unseal secret using TPM2: State not recoverable'],
  ['tpm2-unlock-failed', 'systemd-cryptsetup[400]: tpm2: PCR mismatch for bank sha256'],
  ['root-setup-failed', 'composefs-root: FAILED: no composefs image 0123abcd on the root filesystem'],
  ['generator-failed', 'systemd[1]: /usr/lib/systemd/system-generators/systemd-foo-generator failed with exit status 1.'],
  ['unit-failed', '[FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.'],
];

/** Ordinary boot lines: none may match any pattern. */
const GOOD = [
  '[  OK  ] Started ssh.service - OpenBSD Secure Shell server.',
  'Warning: fsck not present, so skipping root file system',
  'platform regulatory.0: firmware: failed to load regulatory.db (-2)',
  '[    3.201000] platform regulatory.0: Direct firmware load for regulatory.db failed with error -2',
  'systemd[1]: Reached target multi-user.target - Multi-User System.',
  'RAS: Correctable Errors collector initialized.',
  '[    0.000000] Linux version 6.12.48+deb13-amd64 (debian-kernel@lists.debian.org) (gcc-14 (Debian 14.2.0-19) 14.2.0)',
  '[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=UUID=0b1c rw panic=-1 console=ttyS0,115200',
  '[  OK  ] Listening on systemd-coredump.socket - Process Core Dump Socket.',
  '[  OK  ] Finished systemd-tpm2-setup-early.service - Early TPM2 SRK Setup.',
  '         Starting systemd-fsck-root.service - File System Check on Root Device...',
  '[    1.0] systemd[1]: Hostname set to <localhost>.',
  'Debian GNU/Linux 13 localhost ttyS0',
  'localhost login: ',
  'Begin: Running /scripts/local-premount ... done.',
  '[    0.350000] ACPI: PM-Timer IO Port: 0x608',
  '[    0.800000] tpm_tis MSFT0101:00: 2.0 TPM (device-id 0x1, rev-id 1)',
  '[   10.0] EXT4-fs (vda2): mounted filesystem 0b1c r/w with ordered data mode. Quota mode: none.',
  '[  OK  ] Reached target network-online.target - Network is Online.',
  '',
];

t.test('every pattern id is covered by a real line', async (t) => {
  const ids = new Set(CONSOLE_PATTERNS.map((p) => p.id));
  t.equal(ids.size, CONSOLE_PATTERNS.length, 'ids are unique');
  t.same([...ids].filter((id) => !BAD.some(([b]) => b === id)), [], 'each id has an example line here');
});

t.test('bad lines match their pattern', async (t) => {
  for (const [id, line] of BAD) {
    const hit = matchLine(line, 7, none);
    t.equal(hit?.id, id, `${id}: ${line}`);
    if (!hit) continue;
    const p = CONSOLE_PATTERNS.find((x) => x.id === id)!;
    t.equal(hit.fatal, p.fatal, `${id}: fatal as declared`);
    t.equal(hit.warnOnly, false);
    t.equal(hit.lineNo, 7);
    t.equal(hit.line, line);
    t.equal(hit.description, p.description);
  }
});

t.test('ordinary boot lines match nothing', async (t) => {
  for (const line of GOOD) t.equal(matchLine(line, 1, none), undefined, JSON.stringify(line));
});

t.test('fatal patterns are the ones that must stop a boot at once', async (t) => {
  const fatal = CONSOLE_PATTERNS.filter((p) => p.fatal).map((p) => p.id);
  for (const id of ['kernel-panic', 'emergency-shell', 'rescue-shell', 'passphrase-prompt', 'firstboot-prompt', 'tpm2-unlock-failed', 'root-setup-failed', 'dracut-refused', 'initramfs-shell']) {
    t.ok(fatal.includes(id), `${id} is fatal`);
  }
  for (const id of ['kernel-warning', 'unit-failed', 'ordering-cycle', 'segfault', 'oom-killer']) {
    t.notOk(fatal.includes(id), `${id} is judged at the end`);
  }
});

t.test('warnOnly downgrades a fatal pattern', async (t) => {
  const line = 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)';
  const hard = matchLine(line, 3, none)!;
  t.equal(hard.fatal, true);
  t.equal(hard.warnOnly, false);
  const soft = matchLine(line, 3, new Set(['kernel-panic']))!;
  t.equal(soft.id, 'kernel-panic', 'still reported');
  t.equal(soft.fatal, false, 'no longer fatal');
  t.equal(soft.warnOnly, true);
  const other = matchLine(line, 3, new Set(['segfault']))!;
  t.equal(other.fatal, true, 'another id in warnOnly changes nothing');
  const warn = matchLine('[FAILED] Failed to start foo.service - Foo.', 1, new Set(['unit-failed']))!;
  t.equal(warn.fatal, false);
  t.equal(warn.warnOnly, true, 'a non-fatal pattern is marked warn-only too');
});

t.test('scanConsole: every hit, 1-based line numbers, ANSI and CRLF handled', async (t) => {
  const log = [
    '[    0.000000] Linux version 6.12.48+deb13-amd64',
    '[\x1b[0;1;31mFAILED\x1b[0m] Failed to start ssh.service - OpenBSD Secure Shell server.\r',
    '[\x1b[0;32m  OK  \x1b[0m] Reached target multi-user.target - Multi-User System.',
    'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\r',
  ].join('\r\n');
  const hits = scanConsole(log);
  t.same(
    hits.map((h) => [h.id, h.lineNo, h.fatal]),
    [
      ['unit-failed', 2, false],
      ['kernel-panic', 4, true],
    ],
  );
  t.equal(hits[0]!.line, '[FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.', 'the stored line is stripped');
  t.same(scanConsole('all fine\nreally\n'), []);
  t.equal(scanConsole('Kernel panic - not syncing: x')[0]!.lineNo, 1, 'the first line is line 1');
  t.equal(scanConsole('Kernel panic - not syncing: x', new Set(['kernel-panic']))[0]!.fatal, false, 'warnOnly applies');
});

t.test('stripAnsi removes colour codes, charset switches and carriage returns', async (t) => {
  t.equal(stripAnsi('[\x1b[0;32m  OK  \x1b[0m] Started foo.'), '[  OK  ] Started foo.');
  t.equal(stripAnsi('\x1b[?25l\x1b[2Khello\x1b[?25h'), 'hello', 'cursor show/hide and erase-line');
  t.equal(stripAnsi('\x1b(Bplain\x1b)0'), 'plain', 'charset designation');
  t.equal(stripAnsi('line\r'), 'line');
  t.equal(stripAnsi('a\rb\r\n'), 'ab\n', 'every CR goes, LF stays');
  t.equal(stripAnsi('no escapes here'), 'no escapes here');
  // What systemd-firstboot writes before its welcome on a trixie guest's serial console.
  t.equal(stripAnsi('\x1b[!p\x1b]104\x07\x1b[?7h\r'), '', 'a soft reset, an OSC colour reset, a mode set');
  t.equal(stripAnsi('a\x1b]0;title\x1b\\b'), 'ab', 'an OSC ended by ST');
});

t.test('excerpt marks the hit line with >', async (t) => {
  const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
  const ex = excerpt(lines, 10, 2, 2).split('\n');
  t.same(ex, ['  line 8', '  line 9', '> line 10', '  line 11', '  line 12']);
  t.same(excerpt(lines, 1, 5, 1).split('\n'), ['> line 1', '  line 2'], 'clamped at the start');
  t.same(excerpt(lines, 20, 1, 5).split('\n'), ['  line 19', '> line 20'], 'clamped at the end');
  const dflt = excerpt(lines, 10).split('\n');
  t.equal(dflt.length, 11, 'default: 5 before, 5 after');
  t.equal(dflt.filter((l) => l.startsWith('>')).length, 1, 'exactly one marked line');
  t.equal(excerpt(['\x1b[31mred\x1b[0m'], 1), '> red', 'stripped');
});

t.test('describeHit names the pattern, id, line number and line', async (t) => {
  const hit = matchLine('  Kernel panic - not syncing: boom  ', 42, none)!;
  t.equal(describeHit(hit), 'console: kernel panic [kernel-panic] at line 42: Kernel panic - not syncing: boom');
});

// ---------------------------------------------------------------- ConsoleWatch

const dir = mkdtempSync(join(tmpdir(), 'bootc-harness-console-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newWatch = (warnOnly?: Set<string>, promptSettleMs?: number) => new ConsoleWatch(join(dir, `console-${n++}.log`), warnOnly, promptSettleMs === undefined ? {} : { promptSettleMs });

/** Rejects when `p` has not settled within `ms`, so a broken wait fails instead of hanging. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

t.test('ConsoleWatch: chunks split mid-line are joined; the log gets every byte', async (t) => {
  const w = newWatch();
  const chunks = ['[    0.0] Linux ver', 'sion 6.12\r\n[  OK  ] St', 'arted foo.\n', 'half', ' a line\nvm login: '];
  for (const c of chunks) w.feed(c);
  t.same(w.lines, ['[    0.0] Linux version 6.12', '[  OK  ] Started foo.', 'half a line'], 'complete lines only, CR stripped');
  t.same(w.hits, []);
  await w.close();
  t.same(w.lines[w.lines.length - 1], 'vm login: ', 'close flushes the partial line');
  t.equal(readFileSync(w.logPath, 'utf8'), chunks.join(''), 'the log is the raw stream');
});

t.test('ConsoleWatch: waitFor a later line', async (t) => {
  const w = newWatch();
  w.feed('booting\n');
  const p = w.waitFor(/Reached target .*multi-user/);
  let settled = false;
  void p.then(() => (settled = true));
  w.feed('[  OK  ] Started foo.\n');
  await new Promise((r) => setImmediate(r));
  t.equal(settled, false, 'not on an unrelated line');
  w.feed('[  OK  ] Reached target multi-user.target - Multi-User System.\n');
  t.equal(await within(p, 1000, 'waitFor'), '[  OK  ] Reached target multi-user.target - Multi-User System.');
  t.equal(w.listenerCount('line'), 0, 'line listener removed once matched');
  t.equal(w.listenerCount('partial'), 0, 'partial listener removed once matched');
  await w.close();
});

t.test('ConsoleWatch: waitFor a line already seen', async (t) => {
  const w = newWatch();
  w.feed('first\nReached target multi-user.target\nlast\n');
  t.equal(await within(w.waitFor(/multi-user/), 1000, 'waitFor seen'), 'Reached target multi-user.target');
  t.equal(w.listenerCount('line'), 0, 'no listener left behind');
  await w.close();
});

t.test('ConsoleWatch: waitFor a prompt with no newline', async (t) => {
  const w = newWatch();
  const p = w.waitFor(/login: $/);
  w.feed('\r\nDebian GNU/Linux 13 vm ttyS0\r\n\r\n');
  w.feed('vm log');
  w.feed('in: ');
  t.equal(await within(p, 1000, 'prompt'), 'vm login: ');
  t.same(w.lines, ['', 'Debian GNU/Linux 13 vm ttyS0', ''], 'the prompt is not consumed as a line');
  await w.close();
});

// Prompts arrive without a newline: they must count while still pending.
t.test('ConsoleWatch: prompts that are already pending', async (t) => {
  const w = newWatch();
  w.feed('vm login: ');
  await t.resolveMatch(within(w.waitFor(/login: $/), 200, 'prompt already there'), 'vm login: ');

  // systemd's ask-password prints its prompt with no newline and waits for input.
  const v = newWatch(undefined, 100);
  const f = v.fatal().then(
    () => undefined,
    (h: ConsoleHit) => h,
  );
  v.feed('\x1b[0;1;39m\u{1f510} Please enter passphrase for disk root (luks-0b1c2d3e):\x1b[0m ');
  const hit = await within(f, 1000, 'fatal on a pending prompt').catch(() => undefined);
  t.equal(hit?.id, 'passphrase-prompt', 'a passphrase prompt the boot stays at ends it after the short settle');
  t.equal(hit?.unit, 'systemd-cryptsetup@.service');
  await w.close();
  await v.close();
});

t.test('ConsoleWatch: fatal() rejects with the hit on a panic line', async (t) => {
  const w = newWatch();
  const hits: ConsoleHit[] = [];
  w.on('hit', (h: ConsoleHit) => hits.push(h));
  const f = w.fatal();
  w.feed('[    1.0] ok\n[    2.0] WARNING: CPU: 0 PID: 1 at kernel/x.c:1 y+0x1/0x2\n');
  w.feed('[    2.3] Kernel panic - not sync');
  w.feed('ing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
  const hit = await within(
    f.then(
      () => undefined,
      (h: ConsoleHit) => h,
    ),
    1000,
    'fatal',
  );
  t.equal(hit?.id, 'kernel-panic');
  t.equal(hit?.lineNo, 3, 'line number within the console');
  t.equal(hit?.fatal, true);
  t.equal(hit?.line, '[    2.3] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
  t.same(
    hits.map((h) => h.id),
    ['kernel-warning', 'kernel-panic'],
    'every hit is emitted, fatal or not',
  );
  t.same(
    w.hits.map((h) => h.id),
    ['kernel-warning', 'kernel-panic'],
  );
  t.match(w.context(hit!), /^> \[    2\.3\] Kernel panic/m, 'context marks the panic line');

  // A fatal hit already seen rejects a later fatal() at once.
  const again = await within(
    w.fatal().then(
      () => undefined,
      (h: ConsoleHit) => h,
    ),
    1000,
    'fatal again',
  );
  t.equal(again, hit, 'the same hit');
  await w.close();
});

t.test('ConsoleWatch: warnOnly keeps fatal() pending; attach() reads a stream', async (t) => {
  const w = newWatch(new Set(['kernel-panic']));
  const s = new PassThrough();
  w.attach(s);
  let rejected = false;
  w.fatal().catch(() => (rejected = true));
  s.write('Kernel panic - not syncing: tolerated\n');
  s.write('tail without newline');
  s.end();
  await new Promise((r) => s.on('end', r));
  await new Promise((r) => setImmediate(r));
  t.equal(rejected, false, 'a warn-only pattern is not fatal');
  t.equal(w.hits.length, 1, 'but it is recorded');
  t.equal(w.hits[0]!.warnOnly, true);
  t.same(w.lines, ['Kernel panic - not syncing: tolerated', 'tail without newline'], 'stream end flushes the partial line');
  await w.close();
});

t.test('ConsoleWatch: tail() returns the last lines and the pending partial', async (t) => {
  const w = newWatch();
  for (let i = 1; i <= 50; i++) w.feed(`line ${i}\r\n`);
  t.equal(w.tail(3), 'line 48\nline 49\nline 50');
  const dflt = w.tail().split('\n');
  t.equal(dflt.length, 40, 'default 40 lines');
  t.equal(dflt[0], 'line 11');
  w.feed('\x1b[1mprompt# ');
  t.equal(w.tail(2), 'line 49\nline 50\nprompt# ', 'n complete lines, then the pending partial line, stripped');
  await w.close();
  await w.close(); // idempotent
  t.equal(w.lines.length, 51);
});

t.test('ConsoleWatch: a panic line split across chunks is quoted whole', async (t) => {
  const w = newWatch();
  const f = w.fatal().then(
    () => undefined,
    (h: ConsoleHit) => h,
  );
  w.feed('[   15.48] Kernel panic - not syncing: ');
  w.feed('Attempted to kill init! exitcode=0x00000100\n');
  const hit = await f;
  t.equal(hit?.id, 'kernel-panic');
  t.match(hit?.line, /Attempted to kill init!/, 'the hit carries the complete line');
  await w.close();
});

t.test("a VM without vsock makes a stock systemd-ssh-generator fail: the harness's doing, said so, only then", async (t) => {
  const { harnessCause, scanConsole } = await import('../src/vm/console-patterns.js');
  const log = [
    '[   16.027856] NET: Registered PF_VSOCK protocol family',
    '[   16.460390] systemd-ssh-generator[249]: Failed to query local AF_VSOCK CID: Cannot assign requested address',
    '[   16.490134] (sd-exec-[241]: /usr/lib/systemd/system-generators/systemd-ssh-generator failed with exit status 1.',
    '[   16.6] (sd-exec-[241]: /usr/lib/systemd/system-generators/my-generator failed with exit status 1.',
  ];
  const lines = log;
  const hits = scanConsole(log.join('\n'));
  t.same(hits.map((h) => h.id), ['generator-failed', 'generator-failed']);
  t.match(harnessCause(hits[0]!, lines, { vsock: false }), /no vsock device .*harness's doing/);
  t.equal(harnessCause(hits[0]!, lines, { vsock: true }), undefined, 'with a vsock device the same failure is the image\'s');
  t.equal(harnessCause(hits[1]!, lines, { vsock: false }), undefined, 'another generator failing is the image\'s');
  const withoutReason = [lines[0]!, lines[2]!];
  const h = scanConsole(withoutReason.join('\n'))[0]!;
  t.equal(harnessCause(h, withoutReason, { vsock: false }), undefined, 'the ssh generator failing for another reason is the image\'s');
});

// The first boot of a tree that leaves locale, timezone and root password unset, as a trixie guest
// writes it: systemd-firstboot's welcome, then the key prompt with NO trailing newline, then only
// kernel lines (the run quoted one of these as the guest's "last line").
const FIRSTBOOT = [
  '[  OK  ] Finished systemd-remount-fs.service - Remount Root and Kernel File Systems.\r\n',
  '         Starting systemd-firstboot.service - First Boot Wizard...\r\n',
  '\r\nWelcome to your new installation of \x1b[1;31mDebian GNU/Linux 13 (trixie)\x1b[0m!\r\n',
  '\r\nPlease configure your system!\r\n\r\n',
  '-- Press any key to proceed --',
];

t.test('ConsoleWatch: a first-boot prompt with no newline ends the boot once it has stayed, naming systemd-firstboot', async (t) => {
  const w = newWatch(undefined, 150);
  const f = w.fatal().then(
    () => undefined,
    (h: ConsoleHit) => h,
  );
  // Only the key prompt itself, unterminated: it alone must be enough.
  w.feed(FIRSTBOOT[0]! + FIRSTBOOT[1]!);
  w.feed('-- Press any key to proceed --');
  t.same(w.hits, [], 'not yet: the prompt must stay unanswered for the settle deadline');
  // An unrelated unit's status line and a kernel line do not mean the prompt was answered.
  w.feed('\r\n[  OK  ] Finished systemd-random-seed.service - Load/Save OS Random Seed.\r\n[   19.640000] kvm_amd: PMU virtualization is disabled\r\n');
  const hit = await within(f, 2000, 'fatal after the settle deadline');
  t.equal(hit?.id, 'firstboot-prompt');
  t.equal(hit?.unit, 'systemd-firstboot.service', 'the unit behind the prompt');
  t.equal(hit?.fatal, true);
  t.equal(hit?.line, '-- Press any key to proceed --', 'the prompt quoted, not the kernel line after it');
  const { describeHit } = await import('../src/vm/console-patterns.js');
  t.match(describeHit(hit!), /systemd-firstboot is waiting at its interactive prompt .*\[firstboot-prompt, systemd-firstboot\.service\].*Press any key to proceed/);
  t.equal(w.hits.filter((h) => h.fatal).length, 1, 'one verdict, however many prompt lines');
  await w.close();
});

t.test('ConsoleWatch: the whole first-boot welcome, the prompt last and unterminated, is one fatal hit', async (t) => {
  const w = newWatch(undefined, 100);
  const f = w.fatal().then(
    () => undefined,
    (h: ConsoleHit) => h,
  );
  for (const c of FIRSTBOOT) w.feed(c);
  const hit = await within(f, 2000, 'fatal');
  t.equal(hit?.unit, 'systemd-firstboot.service');
  t.equal(hit?.line, 'Please configure your system!', 'the first prompt line is the one held');
  t.equal(w.lastLine(), '-- Press any key to proceed --', 'the unterminated prompt is the last line');
  await w.close();
});

t.test('ConsoleWatch: a first-boot prompt that gives way (firstboot finishes) is a warning, not a failure', async (t) => {
  const w = newWatch(undefined, 300);
  let fatal: ConsoleHit | undefined;
  w.fatal().catch((h: ConsoleHit) => (fatal = h));
  for (const c of FIRSTBOOT) w.feed(c);
  w.feed('\r\n[  OK  ] Finished systemd-firstboot.service - First Boot Wizard.\r\n');
  // Wait past the settle deadline: the held hit must not fire any more.
  await new Promise((r) => setTimeout(r, 500));
  t.equal(fatal, undefined, 'no fatal hit once the prompt was answered');
  t.same(w.hits.map((h) => [h.id, h.fatal]), [['firstboot-prompt', false]], 'kept as a non-fatal hit for the report');
  await w.close();
});
