// Teardown: steps run in reverse order, once; a failing step does not stop the others.
import t from 'tap';
import { TeardownError } from '../src/errors.js';
import { Teardown } from '../src/util/teardown.js';

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
