// CI's closing table gives each run's CPU seconds from the child's rusage (GNU time), so CPU
// a change adds shows even when wall time hides it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { GNU_TIME, cpuSecondsOf, takeCpuSeconds, timedArgv } from '../src/util/child-cpu.js';

t.test('the argv under GNU time, or unchanged without it', async (t) => {
  t.same(timedArgv(['npx', 'tap', 'a.test.ts'], '/tmp/x.cpu', true).slice(-3), ['npx', 'tap', 'a.test.ts'], 'the command runs as given, after time\'s options');
  t.same(timedArgv(['npx', 'tap'], '/tmp/x.cpu', false), ['npx', 'tap']);
});

t.test('user + system seconds, also after a line about the exit status', async (t) => {
  t.equal(cpuSecondsOf('1.50 0.25\n'), 1.75);
  t.equal(cpuSecondsOf('Command exited with non-zero status 3\n0.40 0.10\n'), 0.5);
  t.equal(cpuSecondsOf('Command terminated by signal 9\n'), undefined, 'no figure: none made up');
});

t.test('a real child: the CPU of a grandchild it waited for is counted', { skip: !existsSync(GNU_TIME) && 'no GNU time (setup-host.sh installs it)' }, async (t) => {
  const out = join(tmpdir(), `child-cpu-test-${process.pid}.cpu`);
  // The shell waits for a busy grandchild; wall time alone would not tell busy from idle.
  const argv = timedArgv(['sh', '-c', 'sh -c \'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done\'; exit 4'], out);
  const r = spawnSync(argv[0]!, argv.slice(1));
  t.equal(r.status, 4, 'the exit code passes through');
  const cpu = takeCpuSeconds(out);
  t.ok(cpu !== undefined && cpu > 0.1, `busy grandchild counted (${cpu} s)`);
  t.notOk(existsSync(out), 'the file is removed once read');
  const idle = timedArgv(['sleep', '1'], out);
  spawnSync(idle[0]!, idle.slice(1));
  t.ok(takeCpuSeconds(out)! < 0.2, 'a second asleep is not CPU');
});
