// run: cancelling stops the tool and every process it forked; a long tool's stderr lines as they come.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDeadline } from '../src/util/deadline.js';
import { run } from '../src/util/exec.js';
import { socketAppears } from '../src/vm/daemon.js';
import { running } from './helpers/running.js';

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

t.test('run: each stderr line as it comes, and stderr still whole', async (t) => {
  const seen: string[] = [];
  const r = await run(['sh', '-c', 'echo "I: one..." >&2; echo out; echo "I: two" >&2'], { stage: 'fixture', onStderrLine: (l) => seen.push(l) });
  t.same(seen, ['I: one...', 'I: two'], 'every line, in order, without its newline');
  t.equal(r.stderr, 'I: one...\nI: two\n', 'the caller still gets the whole stderr');
  t.equal(r.stdout, 'out\n', 'stdout untouched');
});

t.test('run: a tool past its output limit or its deadline is stopped, and the error names it as asked', async (t) => {
  const flood = await run(['yes'], { stage: 'image', maxOutputBytes: 64 * 1024, what: 'yes on nothing' }).then(() => undefined, (e: unknown) => e as Error);
  t.equal(flood?.name, 'ToolOverrun');
  t.match(flood?.message, /^\[image\] yes on nothing: stopped after more than 65536 bytes of output$/);
  const slow = await run(['sleep', '30'], { stage: 'disk', timeoutMs: 300 }).then(() => undefined, (e: unknown) => e as Error);
  t.match(slow?.message, /^\[disk\] sleep: timed out after 300 ms$/, 'named by its file when no name is given');
});
