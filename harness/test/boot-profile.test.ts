// Where a boot's time went.
import t from 'tap';

t.test('the boot profile: firmware, the guest to sshd (its own journal), sshd to ready (the harness)', async (t) => {
  const { bootProfile, sshdListeningMs } = await import('../src/report/boot-profile.js');
  const journal = '[    0.000000] vm kernel: Linux version 6.12\n[   30.723044] vm sshd[359]: Server listening on 0.0.0.0 port 22.\n[   30.731373] vm sshd[359]: Server listening on :: port 22.\n';
  t.equal(sshdListeningMs(journal), 30_723, 'the first "Server listening"');
  t.equal(sshdListeningMs('no sshd here'), undefined);
  const p = bootProfile({ vmStartedAt: 1_000_000, kernelAt: 1_006_000, readyAt: 1_038_000 }, journal);
  t.same(p, { vmToReadyMs: 38_000, firmwareMs: 6_000, kernelToSshdMs: 30_723, sshdToReadyMs: 1_277 });
  t.same(bootProfile({ vmStartedAt: 0, readyAt: 5 }, undefined), { vmToReadyMs: 5 }, 'what cannot be known is left out');
});

t.test("sshd listening to ready, split at the guest's own acceptance of the key", async (t) => {
  const { bootProfile, sshdAcceptedMs } = await import('../src/report/boot-profile.js');
  const journal = [
    '[   21.760552] vm sshd[369]: Server listening on 0.0.0.0 port 22.',
    '[   22.102670] vm sshd-session[375]: Connection closed by 10.0.2.2 port 51412',
    '[   23.797763] vm sshd-session[381]: Accepted publickey for root from 10.0.2.2 port 34964 ssh2: ED25519 SHA256:x',
    '[   30.425658] vm sshd-session[475]: Accepted publickey for root from 10.0.2.2 port 37806 ssh2: ED25519 SHA256:x',
  ].join('\n');
  t.equal(sshdAcceptedMs(journal), 23_798, 'the first key accepted (OpenSSH >= 9.8 logs it as sshd-session)');
  t.equal(sshdAcceptedMs('[    5.000000] vm sshd[9]: Accepted publickey for root from 10.0.2.2 port 1 ssh2'), 5_000, 'older sshd logs it as sshd');
  const p = bootProfile({ vmStartedAt: 0, kernelAt: 10_000, readyAt: 34_270 }, journal);
  t.equal(p.sshdToReadyMs, 2_509);
  t.equal(p.sshdToAuthMs, 2_037, 'of which the guest took this long to accept the key');
  t.equal(bootProfile({ vmStartedAt: 0, kernelAt: 10_000, readyAt: 34_270 }, journal.split('\n')[0]).sshdToAuthMs, undefined, 'no acceptance in the journal: not guessed');
});

t.test("the slowest units: systemd's own Starting/Started lines of the first boot, longest first", async (t) => {
  const { slowestUnits } = await import('../src/report/boot-profile.js');
  const journal = [
    '[    1.000000] vm systemd[1]: Starting systemd-networkd.service - Network Configuration...',
    '[    1.100000] vm systemd[1]: Mounting tmp.mount - Temporary Directory /tmp...',
    '[    1.200000] vm systemd[1]: Mounted tmp.mount - Temporary Directory /tmp.',
    '[    2.000000] vm systemd[1]: Starting e2scrub_reap.service - Remove Stale Online ext4 Metadata Check Snapshots...',
    '[    4.500000] vm systemd[1]: Started systemd-networkd.service - Network Configuration.',
    '[    9.000000] vm systemd[1]: Finished e2scrub_reap.service - Remove Stale Online ext4 Metadata Check Snapshots.',
    '[    9.100000] vm systemd[1]: Starting never-done.service - Still going...',
    '[    9.200000] vm systemd[1]: Started session-1.scope - Session 1 of User root.',
    '-- Boot 0b5e7a1c --',
    '[    1.000000] vm systemd[1]: Starting late.service - After the reboot...',
    '[   99.000000] vm systemd[1]: Started late.service - After the reboot.',
  ].join('\n');
  t.same(slowestUnits(journal, 10), [
    { unit: 'e2scrub_reap.service', ms: 7_000 },
    { unit: 'systemd-networkd.service', ms: 3_500 },
    { unit: 'tmp.mount', ms: 100 },
  ], 'longest first; a unit still starting or never announced is not timed; the second boot is not the boot profiled');
  t.same(slowestUnits(journal, 1), [{ unit: 'e2scrub_reap.service', ms: 7_000 }], 'cut to n');
});
