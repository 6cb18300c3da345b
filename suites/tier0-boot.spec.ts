// Tier 0: the image boots to a healthy multi-user system with a clean console.
import { readFileSync } from 'node:fs';
import { describeHit, excerpt, harnessCause, kernelTierOf, scanConsole } from '../harness/src/index.js';
import { test, expect } from './machine.js';

test.describe('boot', { tag: '@tier0' }, () => {
  test('boot.multi-user', async ({ machine }) => {
    const state = (await machine.exec('systemctl show -p ActiveState --value multi-user.target')).stdout.trim();
    expect(state, 'multi-user.target must be active').toBe('active');
  });

  test('boot.system-running', async ({ machine }) => {
    // --wait returns once boot finished: "running" or "degraded".
    const r = await machine.exec('systemctl is-system-running --wait', 110_000);
    const state = r.stdout.trim();
    if (state !== 'running') {
      const failed = (await machine.exec('systemctl list-units --state=failed --plain --no-legend --no-pager')).stdout.trim();
      expect.soft(failed, 'failed units').toBe('');
    }
    expect(state, 'systemctl is-system-running').toBe('running');
  });

  test('boot.no-failed-units', async ({ machine }) => {
    const failed = (await machine.succeed('systemctl list-units --state=failed --plain --no-legend --no-pager'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    expect(failed, `failed units: ${failed.join(', ')}`).toEqual([]);
  });

  test('boot.kernel', async ({ machine, run, profile }) => {
    const release = (await machine.succeed('uname -r')).trim();
    const tier = kernelTierOf(release);
    test.info().annotations.push({ type: 'kernel', description: `${release} (${tier} tier)` });
    expect(release, `the booted kernel must be the one the installer installed (${run.installedKernel}, read from the image on the host)`).toBe(run.installedKernel);
    if (profile.kernel.tier) expect(tier, `kernel ${release} is in the ${tier} compat tier; the profile says ${profile.kernel.tier}`).toBe(profile.kernel.tier);
    if (profile.kernel.release) expect(release.startsWith(profile.kernel.release), `kernel ${release} should be ${profile.kernel.release}.x`).toBe(true);
  });

  test('boot.console-clean', async ({ run, profile }) => {
    const text = readFileSync(run.consoleLog, 'utf8');
    expect(text.length, 'the serial console must have captured the boot').toBeGreaterThan(0);
    const lines = text.split(/\r?\n/);
    const hits = scanConsole(text, new Set(profile.console.warnOnly));
    for (const w of hits.filter((h) => h.warnOnly)) test.info().annotations.push({ type: 'console-warning', description: describeHit(w) });
    // What the harness's VM causes is reported as such, never held against the image.
    const ours = hits.filter((h) => !h.warnOnly && harnessCause(h, lines, run));
    for (const h of ours) test.info().annotations.push({ type: 'harness-warning', description: `${describeHit(h)}: ${harnessCause(h, lines, run)}` });
    const bad = hits.filter((h) => !h.warnOnly && !ours.includes(h));
    expect(bad.map((h) => `${describeHit(h)}\n${excerpt(lines, h.lineNo, 3, 3)}`).join('\n\n'), 'console badness').toBe('');
  });
});
