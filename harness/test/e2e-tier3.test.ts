// Tier 3 for real: a LUKS2 root sealed to the VM's swtpm unlocks unattended, before
// and after a reboot; the same disk booted with a fresh TPM fails fast, as a TPM2
// unlock failure read from the console, not as an SSH timeout.
//
// Boots: three runs, none shared. Each differs in what the question is about: the TPM
// the disk was sealed to (with a reboot inside the run), a TPM that never saw the disk,
// and a disk sealed inside an installer VM to PCR 7 (another install). The fresh-TPM run
// boots the first run's installed disk from the disk cache (the same install inputs).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import { loadProfile } from '../src/profile/profile.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

const skip = !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1';
/** The installed-disk cache entry of the first run, which the fresh-TPM run must boot. */
let sealedDisk: string | undefined;


t.test('the TPM2 fixture passes tiers 0, 1 and 3, reboot included', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'luks-tpm2', '--tier', '0,1,3']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  t.equal(s.luks, 'tpm2');
  sealedDisk = s.diskKey;
  const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
  for (const id of ['boot.no-failed-units', 'boot.console-clean', 'image.setid-bits', 'luks.root-on-crypt', 'luks.tpm2-token', 'luks.unattended-unlock', 'luks.after-reboot']) {
    t.equal(status[id], 'passed', `${id} passed`);
  }
  const token = s.tests.find((x) => x.id === 'luks.tpm2-token');
  t.equal(token?.annotations?.find((a) => a.type === 'tpm2-pcrs')?.description, 'none', 'enrolled from the host: bound to the TPM alone');
  t.same(await findLeftovers(), [], 'nothing left behind');
});

t.test('a fresh TPM: exit 1, "TPM2 unlock failed" from the console within boot time + 10 s', { skip }, async (t) => {
  const r = await cli(['test-install', '--profile', 'luks-tpm2', '--fresh-tpm', '--tier', '0']);
  t.equal(r.code, 1, `exit 1\n${r.stderr.slice(-3000)}`);
  const s = summaryOf(r.stdout + r.stderr);
  t.ok(sealedDisk && s.diskKey === sealedDisk && s.stages.find((x) => x.name === 'disk')?.cached, `the first run's disk, from the disk cache (${s.diskKey})`);
  const reached = s.tests.find((x) => x.id === 'boot.reached-ssh');
  t.equal(reached?.status, 'failed');
  t.match(reached?.error ?? '', /TPM2 unlock failed/, 'the reason is the TPM, named');
  t.match(r.stderr, /TPM2 unlock failed/, 'stderr says so');
  const session = s.stages.find((x) => x.name === 'session');
  // Read from the console when the initrd gave up, not found at the end of the SSH budget.
  const budget = (await loadProfile('luks-tpm2')).budgets.bootMs;
  t.ok(session && session.ms < budget, `failed ${((session?.ms ?? 0) / 1000).toFixed(0)} s into the boot, before the ${budget / 1000} s SSH budget ran out`);
  t.notMatch(reached?.error ?? '', /exceeded its budget/);
  t.same(await findLeftovers(), [], 'nothing left behind');
});

t.test('placement vm: the key is sealed inside an installer VM on the test VM\'s TPM, and the root unlocks', { skip }, async (t) => {
  // The installer VM is the question: a cached disk would skip it.
  const r = await cli(['test-install', '--profile', 'luks-tpm2', '--placement', 'vm', '--tier', '0,3', '--no-disk-cache']);
  t.equal(r.code, 0, `exit 0\n${r.stderr.slice(-3000)}`);
  t.match(r.stderr, /installer VM booting/, 'an installer VM ran');
  t.match(r.stderr, /installer VM: systemd-cryptenroll exited 0/, 'and enrolled the TPM2 key');
  const s = summaryOf(r.stdout + r.stderr);
  t.equal(s.placement, 'vm');
  const status = Object.fromEntries(s.tests.map((x) => [x.id, x.status]));
  for (const id of ['boot.no-failed-units', 'luks.root-on-crypt', 'luks.tpm2-token', 'luks.unattended-unlock', 'luks.after-reboot']) {
    t.equal(status[id], 'passed', `${id} passed`);
  }
  const token = s.tests.find((x) => x.id === 'luks.tpm2-token');
  t.equal(token?.annotations?.find((a) => a.type === 'tpm2-pcrs')?.description, '7', 'sealed to PCR 7 in the installer VM, and PCR 7 matched at the test boot');
  // The report keeps what the operator needs after the fact: the installer VM's console, the
  // run's own log, and the journal of both boots (luks.after-reboot rebooted the guest).
  const runDir = /^report: (.+)$/m.exec(r.stdout)![1]!;
  t.match(readFileSync(join(runDir, 'installer-console.log'), 'utf8'), /bootc-harness-install: exit=0 /, "the installer VM's console, with its unit's result line");
  t.match(readFileSync(join(runDir, 'run.log'), 'utf8'), /^\d\d:\d\d:\d\d disk: installer VM: systemd-cryptenroll exited 0/m, 'the run log has every progress line');
  const journal = readFileSync(join(runDir, 'journal.txt'), 'utf8');
  t.equal(journal.split('\n').filter((l) => l.startsWith('-- Boot ')).length, 1, 'journal.txt holds both boots: one boot separator');
  t.equal(journal.match(/sshd\[\d+\]: Server listening on 0\.0\.0\.0/g)?.length, 2, 'sshd came up once in each');
  t.ok(existsSync(join(runDir, 'boot-analysis.txt')), "systemd-analyze's critical chain and slowest units");
  t.same(await findLeftovers(), [], 'nothing left behind: no virtiofsd, swtpm or QEMU of either VM');
});
