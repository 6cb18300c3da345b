// The run's HTML page.
import t from 'tap';

t.test('the run page: the run first, every value escaped, failures before passes, the console when it failed', async (t) => {
  const { runPage } = await import('../src/report/run-page.js');
  const { newSummary } = await import('../src/report/summary.js');
  const s = newSummary({ source: 'output/<snow>', profile: 'snow', profileReason: 'the image\'s label', installer: 'bootc', stages: [{ name: 'disk', ms: 20_900, cached: true }], startedAt: '2026-11-30T07:00:00Z' });
  Object.assign(s, { verdict: 'failed', exitCode: 1, image: { ref: 'localhost/snow:1', digest: 'sha256:ab' }, kernel: { release: '6.12.1', tier: 'pre-6.15' }, tiers: { tier0: 'passed', tier1: 'failed' } });
  s.tests = [
    { id: 'boot.kernel', tier: 'tier0', status: 'passed' },
    { id: 'image.setid-bits', tier: 'tier1', status: 'failed', error: '/usr/bin/<sudo> lost "SUID"' },
  ];
  const html = runPage(s, { playwright: 'tests/index.html', files: ['console.log'], consoleTail: 'login: <prompt>' });
  t.notMatch(html, /<snow>|<sudo>|<prompt>/, 'nothing from the image reaches the page as markup');
  t.match(html, /output\/&lt;snow&gt;/);
  t.ok(html.indexOf('id="verdict"') < html.indexOf('id="tests"'), 'the verdict comes first');
  t.ok(html.indexOf('image.setid-bits') < html.indexOf('boot.kernel'), 'a failure is listed before a pass');
  t.match(html, /<pre id="console">login: &lt;prompt&gt;<\/pre>/, 'the console of a run that failed');
  t.match(html, /<td>disk<\/td><td>20\.9<\/td><td>yes<\/td>/, 'stages with their seconds and whether cached');
  t.notMatch(runPage({ ...s, verdict: 'passed' }, { files: [], consoleTail: 'x' }), /id="console"/, 'a passed run shows no console');
});
