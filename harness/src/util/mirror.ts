// The Debian mirror comes from the host's own apt configuration (or
// BOOTC_HARNESS_MIRROR), never from a hard-coded host.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/** Pure: archive URIs found in deb822 (.sources) or one-line (.list) texts, security archives skipped. */
export function mirrorsFromAptSources(texts: readonly string[]): string[] {
  const found: string[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const t = line.trim();
      let uris: string[] = [];
      if (/^URIs:/i.test(t)) uris = t.replace(/^URIs:/i, '').trim().split(/\s+/);
      else if (/^deb\s/.test(t)) uris = t.split(/\s+/).filter((w) => /^[a-z]+:\/\//.test(w)).slice(0, 1);
      for (const u of uris) if (!/-security/.test(u) && /\/debian\/?$/.test(u)) found.push(u.replace(/\/$/, ''));
    }
  }
  return [...new Set(found)];
}

export function hostDebianMirror(): string {
  const override = process.env.BOOTC_HARNESS_MIRROR;
  if (override) return override;
  const texts: string[] = [];
  const read = (p: string) => {
    try {
      texts.push(readFileSync(p, 'utf8'));
    } catch {
      /* absent */
    }
  };
  read('/etc/apt/sources.list');
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (f.endsWith('.sources') || f.endsWith('.list')) read(join('/etc/apt/sources.list.d', f));
    }
  } catch {
    /* no directory */
  }
  const [first] = mirrorsFromAptSources(texts);
  if (!first) throw new UsageError('no Debian mirror in the host apt sources; set BOOTC_HARNESS_MIRROR');
  return first;
}
