// SELinux, read rather than assumed: the mode the kernel enforces, and which domains enter
// a confined tool's domain. swtpm's own policy (src/selinux in stefanberger/swtpm) confines
// it as swtpm_t only when svirt_t or svirt_tcg_t (libvirt's guests) execute it
// (swtpm_svirt.te: swtpm_domtrans(svirt_t), swtpm_domtrans(svirt_tcg_t)); one started from
// an administrator's shell or sudo keeps the caller's domain.

export type SelinuxMode = 'enforcing' | 'permissive' | 'disabled';

/** Pure: the mode from /sys/fs/selinux/enforce ("1"/"0"), or disabled when selinuxfs is absent. */
export function selinuxMode(enforce: string | undefined): SelinuxMode {
  if (enforce === undefined) return 'disabled';
  return enforce.trim() === '1' ? 'enforcing' : 'permissive';
}

/**
 * Pure: the domains a policy source lets enter `domain` by executing `execType`:
 * `X_domtrans(D)` interface calls (for a module named X) and `domtrans_pattern(D, exec, domain)`.
 */
export function domainsEntering(te: string, module: string, execType: string, domain: string): string[] {
  const out = new Set<string>();
  for (const m of te.matchAll(new RegExp(`^\\s*${module}_domtrans\\(\\s*(\\w+)\\s*\\)`, 'gm'))) out.add(m[1]!);
  for (const m of te.matchAll(/^\s*domtrans_pattern\(\s*(\$?\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\)/gm)) {
    if (m[2] === execType && m[3] === domain && !m[1]!.startsWith('$')) out.add(m[1]!);
  }
  return [...out].sort();
}

/** Pure: the type of a context "user:role:type:level" (/proc/self/attr/current). */
export function typeOfContext(context: string): string | undefined {
  return context.replace(/\0/g, '').trim().split(':')[2];
}
