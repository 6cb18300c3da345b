// Tier 3: the root sits on LUKS2 and was opened by the TPM, unattended: a crypt
// device under /, exactly one systemd-tpm2 token in the header, no passphrase
// prompt on the console; and all of it again after a reboot (the key is sealed to
// this TPM, not to one boot). The reboot is the last test of the tier.
import { readFileSync } from 'node:fs';
import { describeHit, keyslotsOutsideTpm2, parseJournal, scanConsole, unattendedUnlock, unlockJournalCommand, type Machine } from '../harness/src/index.js';
import { test, expect, sq } from './machine.js';

interface Device {
  name: string;
  type: string;
  path: string;
}

/** The device stack under / (root first, then its parents): lsblk --inverse. */
async function rootStack(machine: Machine): Promise<Device[]> {
  const source = (await machine.succeed('findmnt -n -o SOURCE /')).trim();
  const out = await machine.succeed(`lsblk --inverse --list --noheadings -o NAME,TYPE,PATH ${sq(source)}`);
  return out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([name = '', type = '', path = '']) => ({ name, type, path }));
}

interface LuksState {
  crypt: Device;
  backing: Device;
  tokens: string[];
  /** PCRs each systemd-tpm2 token is bound to ('' for none: bound to the TPM alone). */
  tpm2Pcrs: string[];
  keyslots: number;
  /** Keyslots no systemd-tpm2 token names: a way in besides the TPM. */
  outsideTpm2: string[];
}

async function luksState(machine: Machine): Promise<LuksState> {
  const stack = await rootStack(machine);
  const i = stack.findIndex((d) => d.type === 'crypt');
  expect(i, `/ is not on dm-crypt: its device stack is ${stack.map((d) => `${d.name} (${d.type})`).join(' <- ')}`).toBeGreaterThanOrEqual(0);
  const backing = stack[i + 1];
  expect(backing, 'the crypt device has a backing device').toBeTruthy();
  const dump = await machine.succeed(`cryptsetup luksDump --dump-json-metadata ${sq(backing!.path)}`);
  const meta = JSON.parse(dump) as { tokens?: Record<string, { type: string; 'tpm2-pcrs'?: number[] }>; keyslots?: Record<string, unknown> };
  const tokens = Object.values(meta.tokens ?? {});
  return {
    crypt: stack[i]!,
    backing: backing!,
    tokens: tokens.map((t) => t.type),
    tpm2Pcrs: tokens.filter((t) => t.type === 'systemd-tpm2').map((t) => (t['tpm2-pcrs'] ?? []).join('+')),
    keyslots: Object.keys(meta.keyslots ?? {}).length,
    outsideTpm2: keyslotsOutsideTpm2(dump),
  };
}

/** Console lines of this boot that say the initrd asked for a passphrase or TPM2 failed. */
function unlockTrouble(consoleText: string): string[] {
  return scanConsole(consoleText, new Set())
    .filter((h) => h.id === 'passphrase-prompt' || h.id === 'tpm2-unlock-failed')
    .map((h) => describeHit(h));
}

/**
 * What only an unattended TPM2 unlock of this boot shows: the journal of the boot the machine
 * talks to has systemd-cryptsetup's unit for the root's volume finished with no password asked
 * for, and every keyslot of the header belongs to the systemd-tpm2 token (no other way in).
 */
async function checkUnlockedByTpm(machine: Machine, consoleText: string): Promise<void> {
  const s = await luksState(machine);
  expect(s.tokens, `the LUKS header on ${s.backing.path} must have exactly one systemd-tpm2 token`).toEqual(['systemd-tpm2']);
  expect(s.outsideTpm2, `keyslots of ${s.backing.path} that the systemd-tpm2 token does not name (another way in)`).toEqual([]);
  const active = (await machine.succeed(`cryptsetup status ${sq(s.crypt.name)}`)).match(/type:\s+(\S+)/)?.[1];
  expect(active, `${s.crypt.name} is an open LUKS2 mapping`).toBe('LUKS2');
  const journal = await machine.exec(unlockJournalCommand(s.crypt.name), 60_000);
  expect(journal.exitCode, `journalctl failed (exit ${journal.exitCode}): ${journal.stderr.trim()}`).toBe(0);
  const v = unattendedUnlock(parseJournal(journal.stdout), s.crypt.name);
  test.info().annotations.push({ type: 'unlock', description: `boot ${machine.bootId}: ${v.evidence.join(' | ') || 'no messages'}` });
  expect(v.problems, `this boot (${machine.bootId}) unlocked ${s.crypt.name} unattended, by systemd-cryptsetup`).toEqual([]);
  expect(unlockTrouble(consoleText), 'the boot unlocked the root with no passphrase prompt and no TPM2 failure').toEqual([]);
}

test.describe('storage', { tag: '@tier3' }, () => {
  test.beforeEach(({ profile }) => test.skip(!profile.expect.luks?.tpm2, 'the profile does not expect a LUKS2 root unlocked by TPM2'));

  test('luks.root-on-crypt', async ({ machine }) => {
    const s = await luksState(machine);
    test.info().annotations.push({ type: 'root', description: `${s.crypt.name} (crypt) on ${s.backing.path}` });
  });

  test('luks.tpm2-token', async ({ machine, run }) => {
    const s = await luksState(machine);
    test.info().annotations.push({ type: 'keyslots', description: String(s.keyslots) });
    // Which PCRs the key is sealed to: none from a host-side enrollment, 7 from the installer VM (as bootc's tpm2-luks).
    test.info().annotations.push({ type: 'tpm2-pcrs', description: s.tpm2Pcrs.map((p) => p || 'none').join(', ') });
    expect(s.tokens, `the LUKS header on ${s.backing.path} must have exactly one systemd-tpm2 token`).toEqual(['systemd-tpm2']);
    // The setup passphrase was wiped: the TPM's is the only way in.
    expect(s.keyslots, `the LUKS header on ${s.backing.path} must have exactly one keyslot, the TPM2 one`).toBe(1);
    expect(run.luksPcrs, 'the installer recorded which PCRs it sealed to').toBeDefined();
    expect(s.tpm2Pcrs[0], `the token must be sealed to the PCRs the installer used (${run.luksPcrs || 'none'})`).toBe(run.luksPcrs);
  });

  test('luks.unattended-unlock', async ({ machine, run }) => {
    const text = readFileSync(run.consoleLog, 'utf8');
    expect(text.length, 'the serial console captured the boot').toBeGreaterThan(0);
    await checkUnlockedByTpm(machine, text);
  });

  test('luks.after-reboot', async ({ machine, run, profile }) => {
    test.setTimeout(profile.budgets.bootMs + 60_000);
    const consoleBefore = readFileSync(run.consoleLog, 'utf8').length;
    // reboot() waits for a new boot id and refuses a changed host key; what is judged is the new
    // boot's own journal and console: the key sealed to this TPM opened the root again, unattended.
    await machine.reboot();
    await checkUnlockedByTpm(machine, readFileSync(run.consoleLog, 'utf8').slice(consoleBefore));
  });
});
