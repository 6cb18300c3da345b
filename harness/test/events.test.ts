// Run events as one line each.
import t from 'tap';

t.test('events: each reads as one line with its time; stage ends carry the duration and whether cached', async (t) => {
  const { describeEvent } = await import('../src/report/events.js');
  const at = '2026-11-30T07:05:01.123Z';
  t.same(describeEvent({ event: 'stage-start', at, stage: 'disk' }), { time: '07:05:01', text: 'disk: started' });
  t.equal(describeEvent({ event: 'stage-end', at, stage: 'disk', ms: 20_940, cached: true }).text, 'disk: done in 20.9 s (cached)');
  t.equal(describeEvent({ event: 'stage-end', at, stage: 'session', ms: 1_000, cached: false, error: 'QEMU exited 1\nmore' }).text, 'session: failed in 1.0 s: QEMU exited 1', 'a failure: its first line');
  t.equal(describeEvent({ event: 'test', at, id: 'boot.kernel', tier: 'tier0', status: 'passed' }).text, 'passed tier0 boot.kernel');
  t.match(describeEvent({ event: 'verdict', at, verdict: 'failed', exitCode: 1, runDir: '/r/x' }).text, /^verdict: failed \(exit 1\), report \/r\/x$/);
});
