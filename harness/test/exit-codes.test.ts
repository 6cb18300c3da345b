// Exit codes and the one error message the CLI prints.
import t from 'tap';
import { AssertionFailure, InfraError, TeardownError, UsageError } from '../src/errors.js';
import { EXIT, exitCodeFor, formatError } from '../src/cli/exit-codes.js';
import { DeadlineExceeded } from '../src/util/deadline.js';

t.test('exitCodeFor maps error classes to exit codes', async (t) => {
  t.equal(exitCodeFor(new UsageError('bad')), 2);
  t.equal(exitCodeFor(new AssertionFailure('suites', 'sudo lost SUID')), 1);
  t.equal(exitCodeFor(new InfraError('vm', 'qemu died')), 3);
  t.equal(exitCodeFor(new Error('plain')), 3, 'an unexpected error is infrastructure');
  t.equal(exitCodeFor(new DeadlineExceeded('boot', 1000)), 3);
  t.equal(exitCodeFor(new TeardownError([new Error('x')], 'x')), 3);
  t.equal(exitCodeFor('a string'), 3);
  t.same(EXIT, { passed: 0, failed: 1, usage: 2, infra: 3, interrupted: 130 });
});

t.test('formatError: one line for a UsageError; stage and console tail otherwise', async (t) => {
  const u = formatError(new UsageError('source directory /nope does not exist'));
  t.equal(u, 'bootc-harness: source directory /nope does not exist');
  t.notMatch(u, /\n/, 'one line');
  t.notMatch(u, /UsageError|at .*\.ts/, 'no class name, no stack');

  const a = formatError(new AssertionFailure('session', 'console: kernel panic', { consoleTail: 'l1\nl2' }));
  t.equal(a, 'bootc-harness: FAILED: [session] console: kernel panic\n--- console tail ---\nl1\nl2\n---');

  const i = Object.assign(new InfraError('vm', 'qemu exited 1'), { runDir: '/r/run-7' });
  t.equal(formatError(i), 'bootc-harness: ERROR: [vm] qemu exited 1\nreport: /r/run-7');
  t.equal(formatError(new Error('boom')), 'bootc-harness: ERROR: boom');
});
