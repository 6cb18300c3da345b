// What a person sees of a run: plain timestamped lines for pipes and CI, a live status line
// on an interactive terminal (checked on a real pty), and the choice between them.
import t from 'tap';
import { resolve } from 'node:path';
import { plainTerminal, stageEndLine, statusLine, wantsLiveView } from '../src/cli/terminal.js';
import type { RunEvent } from '../src/report/events.js';
import { REPO, inPty } from './helpers/cli.js';

const at = '2026-11-30T12:00:05.000Z';

t.test('the live view only on an interactive terminal a person reads', async (t) => {
  t.ok(wantsLiveView({ isTTY: true }, { TERM: 'xterm' }));
  t.notOk(wantsLiveView({ isTTY: false }, { TERM: 'xterm' }), 'a pipe or a file: plain lines');
  t.notOk(wantsLiveView({}, {}), 'a stream that is no terminal');
  t.notOk(wantsLiveView({ isTTY: true }, { TERM: 'xterm', CI: 'true' }), "CI's log keeps every line");
  t.notOk(wantsLiveView({ isTTY: true }, { TERM: 'dumb' }), 'a dumb terminal cannot redraw');
});

t.test('plain: every stage start and end, every step and log line, each timestamped', async (t) => {
  let out = '';
  const seen: RunEvent[] = [];
  const term = plainTerminal((s) => (out += s), (e) => seen.push(e));
  const events: RunEvent[] = [
    { event: 'stage-start', at, stage: 'fixture' },
    { event: 'progress', at, stage: 'fixture', text: 'extracting archives' },
    { event: 'stage-end', at, stage: 'fixture', ms: 94_100, cached: false },
    { event: 'stage-end', at, stage: 'image', ms: 120, cached: true },
    { event: 'test', at, id: 'boot.kernel', tier: 'tier0', status: 'passed' },
  ];
  for (const e of events) term.events(e);
  term.log('disk: installer direct');
  const lines = out.trimEnd().split('\n');
  t.same(lines.slice(0, 4), [
    '12:00:05 bootc-harness: fixture: started',
    '12:00:05 bootc-harness: fixture: extracting archives',
    '12:00:05 bootc-harness: fixture: done in 94.1 s',
    '12:00:05 bootc-harness: image: done in 0.1 s (cached)',
  ]);
  t.match(lines[4], /^\d\d:\d\d:\d\d bootc-harness: disk: installer direct$/, 'a log line, stamped now');
  t.equal(lines.length, 5, "a test's result is the report's, not a progress line");
  t.equal(seen.length, events.length, 'every event also reaches the JSON stream when there is one');
});

t.test('the status line: spinner, stage, seconds so far, latest step, cut to the width', async (t) => {
  const r = { stage: 'session', startedAt: 1_000, step: 'kernel 6.12.117+deb13-amd64 at 9.8 s' };
  t.equal(statusLine(r, 13_500, 0, 120), '⠋ session 12 s  kernel 6.12.117+deb13-amd64 at 9.8 s');
  t.not(statusLine(r, 13_500, 1, 120).slice(0, 1), '⠋', 'the spinner turns');
  const cut = statusLine(r, 13_500, 0, 30);
  t.equal(cut.length, 29, 'never wider than the terminal (one column spare: no wrap)');
  t.ok(cut.endsWith('…'));
  t.equal(statusLine({ stage: 'disk', startedAt: 0 }, 999, 0, 80), '⠋ disk 0 s', 'no step yet');
});

t.test("a finished stage's line: its time, cached or the first line of its error", async (t) => {
  t.equal(stageEndLine({ event: 'stage-end', at, stage: 'disk', ms: 23_940, cached: false }), '✔ disk 23.9 s');
  t.equal(stageEndLine({ event: 'stage-end', at, stage: 'image', ms: 200, cached: true }), '✔ image 0.2 s (cached)');
  t.equal(stageEndLine({ event: 'stage-end', at, stage: 'session', ms: 300_000, cached: false, error: 'no SSH\nconsole: ...' }), '✖ session failed after 300.0 s: no SSH');
});

t.test('on a real terminal: the status line is drawn and redrawn in place, lines said once stay, nothing is left of it at the end', async (t) => {
  const r = await inPty([process.execPath, '--import=tsx', resolve(REPO, 'harness/test/helpers/live-view-demo.ts')]);
  t.equal(r.code, 0, `exit 0\n${r.stdout}`);
  t.match(r.raw, /[⠀-⣿] disk 0 s {2}extracting archives/, 'the running stage (a spinner, its name, its time) with its step');
  t.match(r.raw, /disk 0 s {2}writing the ESP/, 'a new step redraws it');
  t.match(r.raw, /\x1b\[2K|\x1b\[1A|\x1b\[0K/, 'by erasing the line, not by printing a new one');
  t.match(r.stdout, /^\d\d:\d\d:\d\d disk: installer direct$/m, 'a log line stays');
  t.match(r.stdout, /^\d\d:\d\d:\d\d ✔ disk 1\.2 s$/m, "the stage's end stays, with its time");
  t.match(r.raw, /session 0 s {2}kernel 6\.12 at 9\.8 s/, 'the next stage gets the status line');
  const tail = r.raw.slice(r.raw.lastIndexOf('kernel 6.12 at 9.8 s'));
  t.match(tail, /\x1b\[2K|\x1b\[0K/, 'closing erases the status line');
  t.match(r.stdout.trimEnd().split('\n').at(-1) ?? '', /after the view$/, 'and what follows starts on a clean line');
});
