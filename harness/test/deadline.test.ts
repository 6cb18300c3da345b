// Deadlines: withDeadline and poll end with DeadlineExceeded, naming what and the budget.
import t from 'tap';
import { UsageError } from '../src/errors.js';
import { DeadlineExceeded, poll, withDeadline, type PollStep } from '../src/util/deadline.js';
import { alive } from './helpers/alive.js';

const never = () => new Promise<never>(() => {});

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

t.test('DeadlineExceeded names sub-second budgets in ms', async (t) => {
  t.equal(new DeadlineExceeded('probe', 300).message, 'probe: no result within 300 ms');
  t.equal(new DeadlineExceeded('boot', 300_000).message, 'boot: no result within 300 s');
});
