// The console watch reads what the guest controls: it must stay linear in what it reads (no
// re-splitting of a growing line on every chunk), and bounded in memory and on disk, each cut
// marked. Linearity is shown by counting the watch's own work (characters scanned, stripped or
// matched), never by timing.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleWatch, CUT_LINE_MARK, MAX_LINE, PROMPT_WINDOW } from '../src/vm/console-watch.js';

function watchIn(t: Test, limits: { maxLogBytes?: number; maxKeptChars?: number; promptSettleMs?: number } = {}): ConsoleWatch {
  const dir = mkdtempSync(join(tmpdir(), 'bh-console-watch-'));
  const w = new ConsoleWatch(join(dir, 'console.log'), new Set(), limits);
  t.teardown(async () => {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return w;
}

/** Feeds `total` characters of one line (no newline until the end) in `chunk`-sized pieces; returns the work counted. */
function feedLongLine(t: Test, total: number, chunk: number): number {
  const w = watchIn(t);
  const piece = 'x'.repeat(chunk);
  for (let fed = 0; fed < total; fed += chunk) w.feed(piece);
  w.feed('\n');
  return w.examined;
}

t.test('a very long line fed in many chunks costs work linear in its length', async (t) => {
  const chunk = 16;
  const n = 256 * 1024;
  const one = feedLongLine(t, n, chunk);
  const two = feedLongLine(t, 2 * n, chunk);
  // Per chunk: the chunk scanned once, a prompt window of at most PROMPT_WINDOW judged; each
  // character once more when its line completes. The old watch re-split the whole pending
  // line on every chunk: n^2 / (2 * chunk), here 2 GiB of work for 256 KiB.
  const bound = (size: number) => size * (2 + PROMPT_WINDOW / chunk) + 2 * MAX_LINE;
  t.ok(one <= bound(n), `256 KiB in ${chunk}-byte chunks: ${one} characters of work, at most ${bound(n)}`);
  t.ok(two / one < 2.05, `twice the input, twice the work (ratio ${(two / one).toFixed(3)}), not four times`);
  t.ok(one < (n * n) / (2 * chunk) / 100, 'orders of magnitude below what re-splitting the growing line costs');
});

t.test('a line longer than MAX_LINE is cut there, marked, and goes on as the next line: nothing lost', async (t) => {
  const w = watchIn(t);
  const text = Array.from({ length: 2 * MAX_LINE + 100 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  for (let i = 0; i < text.length; i += 1000) w.feed(text.slice(i, i + 1000));
  w.feed('\nnext\n');
  t.equal(w.lines.length, 4, 'two cut pieces, the rest, and the next line');
  t.ok(w.lines.slice(0, 2).every((l) => l.endsWith(CUT_LINE_MARK) && l.length === MAX_LINE + CUT_LINE_MARK.length), 'each cut piece is MAX_LINE characters, marked');
  t.equal(w.lines.slice(0, 3).map((l) => l.replace(CUT_LINE_MARK, '')).join(''), text, 'together the pieces are the line');
  t.equal(w.lines[3], 'next');
});

t.test('a prompt at the end of a very long pending line is still seen', async (t) => {
  // A passphrase prompt is fatal once the boot stays at it for the settle time (a short one here).
  const w = watchIn(t, { promptSettleMs: 20 });
  // (the watch's settle timer does not hold the process open; this one does, and bounds the wait)
  let guard: NodeJS.Timeout | undefined;
  const fatal = new Promise((resolve, reject) => {
    guard = setTimeout(() => reject(new Error('no fatal hit within 5 s')), 5_000);
    w.once('fatal', resolve);
  }).finally(() => clearTimeout(guard));
  w.feed('y'.repeat(3 * MAX_LINE + 77));
  w.feed('Please enter passphrase for disk root:');
  await fatal;
  t.equal(w.hits.length, 1, 'judged by its last characters, though the line holds far more');
  t.equal(w.hits[0]?.id, 'passphrase-prompt');
  t.equal(w.hits[0]?.lineNo, 4, 'numbered as the line it is on (after three cut pieces)');
});

t.test('console.log stops at its limit with one marked line; kept lines stop at theirs, later lines still judged', async (t) => {
  const w = watchIn(t, { maxLogBytes: 10_000, maxKeptChars: 5_000 });
  const line = `${'z'.repeat(99)}\n`;
  for (let i = 0; i < 300; i++) w.feed(line);
  w.feed('[  101.000000] Kernel panic - not syncing: Attempted to kill init!\n');
  await w.close();
  const log = readFileSync(w.logPath, 'utf8');
  t.ok(statSync(w.logPath).size < 10_000 + 200, `the log file is bounded (${statSync(w.logPath).size} bytes)`);
  t.match(log, /\[bootc-harness: console log cut after 10000 bytes: the guest wrote more than 10000\]\n$/, 'the cut is marked, once, at the end');
  t.ok(w.lines.reduce((n, l) => n + l.length, 0) <= 5_000, 'kept lines bounded');
  t.equal(w.hits.at(-1)?.id, 'kernel-panic', 'a line past both limits is still judged');
  t.equal(w.hits.at(-1)?.lineNo, 301, 'and numbered as the 301st line');
  t.match(w.tail(3), /later console lines judged but not kept/, 'the tail says lines were dropped');
  t.match(w.context(w.hits.at(-1)!), /Kernel panic/, 'a hit past the kept lines still shows its own line');
});
