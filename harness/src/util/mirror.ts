// The Debian mirror comes from the host's own apt configuration (or
// BOOTC_HARNESS_MIRROR), never from a hard-coded host.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

const DEBIAN_SUITE = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable)(-updates|-backports|-proposed-updates)?$/;

interface AptEntry {
  uris: string[];
  suites: string[];
  components: string[];
}

function entries(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!/^deb\s/.test(t)) continue;
    const words = t.replace(/\[[^\]]*\]/, '').split(/\s+/).slice(1);
    const [uri, suite, ...components] = words;
    if (uri) out.push({ uris: [uri], suites: suite ? [suite] : [], components });
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    const uris = field('URIs');
    if (uris.length && /^Types:.*\bdeb\b/im.test(stanza)) out.push({ uris, suites: field('Suites'), components: field('Components') });
  }
  return out;
}

/**
 * Pure: Debian archive URIs in deb822 (.sources) or one-line (.list) texts. An entry
 * counts when it serves a Debian suite with "main" (so docker's or tailscale's
 * /debian repos do not); security archives are skipped; debian.org hosts come first.
 */
export function mirrorsFromAptSources(texts: readonly string[]): string[] {
  const found: string[] = [];
  for (const text of texts) {
    for (const e of entries(text)) {
      if (!e.components.includes('main') || !e.suites.some((s) => DEBIAN_SUITE.test(s))) continue;
      for (const u of e.uris) if (!/-security/.test(u) && /\/debian\/?$/.test(u)) found.push(u.replace(/\/$/, ''));
    }
  }
  const unique = [...new Set(found)];
  const official = (u: string) => (/^[a-z]+:\/\/([^/]*\.)?debian\.org\//.test(u) ? 0 : 1);
  return unique.sort((a, b) => official(a) - official(b));
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
