// luks.after-reboot (and the first boot), judged from what only a real unattended unlock
// leaves behind: this boot's journal shows systemd-cryptsetup's unit for the root's volume
// finishing, with no password asked for (no ask-password agent started, no passphrase or
// TPM2 failure from systemd-cryptsetup); together with a header whose every keyslot belongs
// to the systemd-tpm2 token, nothing but the TPM can have opened it.

/** One `journalctl -o json` entry, the fields read here (MESSAGE may be a byte array). */
export interface JournalEntry {
  MESSAGE?: string | number[];
  UNIT?: string;
  _SYSTEMD_UNIT?: string;
  SYSLOG_IDENTIFIER?: string;
  JOB_TYPE?: string;
  JOB_RESULT?: string;
}

/** Pure: systemd's unit-name escaping of one string (systemd-escape): '/' becomes '-', others \xNN. */
export function systemdEscape(s: string): string {
  return [...Buffer.from(s.replace(/^\/+|\/+$/g, ''), 'utf8')]
    .map((b, i) => {
      const c = String.fromCharCode(b);
      if (c === '/') return '-';
      if (/[A-Za-z0-9:_]/.test(c) || (c === '.' && i > 0)) return c;
      return `\\x${b.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

/** The unit systemd-cryptsetup-generator makes for a crypttab volume. */
export function cryptsetupUnit(volume: string): string {
  return `systemd-cryptsetup@${systemdEscape(volume)}.service`;
}

/** Shell: this boot's journal entries that bear on how the volume was unlocked, as JSON lines. */
export function unlockJournalCommand(volume: string): string {
  const unit = cryptsetupUnit(volume).replace(/'/g, `'\\''`);
  return [
    'journalctl -b 0 -o json --no-pager',
    '--output-fields=MESSAGE,UNIT,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER,JOB_TYPE,JOB_RESULT',
    `'UNIT=${unit}' + '_SYSTEMD_UNIT=${unit}' + SYSLOG_IDENTIFIER=systemd-cryptsetup`,
    '+ UNIT=systemd-ask-password-console.service + UNIT=systemd-ask-password-wall.service + UNIT=systemd-ask-password-plymouth.service',
  ].join(' ');
}

function messageOf(e: JournalEntry): string {
  const m = e.MESSAGE;
  return Array.isArray(m) ? Buffer.from(m).toString('utf8') : (m ?? '');
}

/** Pure: `journalctl -o json` lines. */
export function parseJournal(out: string): JournalEntry[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JournalEntry);
}

/** What systemd-cryptsetup says when it asks for a passphrase or the TPM2 route failed (src/cryptsetup/cryptsetup.c). */
const ASKED_OR_FAILED = /Please enter|passphrase|falling back|Failed to unseal|TPM2 operation failed|No valid TPM2 token|Failed to activate/i;

export interface UnlockVerdict {
  problems: string[];
  /** The journal lines that show the unlock, for the report. */
  evidence: string[];
}

/** Pure: did this boot's journal see the volume opened unattended by systemd-cryptsetup? */
export function unattendedUnlock(entries: readonly JournalEntry[], volume: string): UnlockVerdict {
  const unit = cryptsetupUnit(volume);
  const problems: string[] = [];
  const ofUnit = entries.filter((e) => e.UNIT === unit || e._SYSTEMD_UNIT === unit);
  const done = ofUnit.find((e) => e.UNIT === unit && e.JOB_TYPE === 'start' && e.JOB_RESULT === 'done');
  if (!done) {
    const other = ofUnit.find((e) => e.JOB_TYPE === 'start' && e.JOB_RESULT);
    problems.push(other ? `${unit} did not start successfully this boot (job result ${other.JOB_RESULT})` : `this boot's journal has no finished ${unit}: the root's volume ${volume} was not opened by systemd-cryptsetup`);
  }
  const asked = entries.filter((e) => /^systemd-ask-password-(console|wall|plymouth)\.service$/.test(e.UNIT ?? '') && e.JOB_TYPE === 'start');
  if (asked.length) problems.push(`a password was asked for this boot (${[...new Set(asked.map((e) => e.UNIT))].join(', ')} started)`);
  const said = entries.filter((e) => (e.SYSLOG_IDENTIFIER === 'systemd-cryptsetup' || e._SYSTEMD_UNIT === unit) && ASKED_OR_FAILED.test(messageOf(e)));
  for (const e of said) problems.push(`systemd-cryptsetup: ${messageOf(e)}`);
  const evidence = ofUnit.map(messageOf).filter(Boolean);
  return { problems, evidence };
}

/** Pure: the LUKS2 header's keyslots that no systemd-tpm2 token names (`cryptsetup luksDump --dump-json-metadata`). */
export function keyslotsOutsideTpm2(metadataJson: string): string[] {
  const meta = JSON.parse(metadataJson) as { keyslots?: Record<string, unknown>; tokens?: Record<string, { type: string; keyslots?: string[] }> };
  const tpm2 = new Set(Object.values(meta.tokens ?? {}).filter((t) => t.type === 'systemd-tpm2').flatMap((t) => t.keyslots ?? []));
  return Object.keys(meta.keyslots ?? {}).filter((k) => !tpm2.has(k));
}
