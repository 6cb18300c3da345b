// Pure: where a boot has got to, read from its serial console, for the operator's progress
// lines ("boot: initrd at 21.3 s"). Only the landmarks every UEFI + systemd boot passes,
// in order; a line that is none of them says nothing.

export interface Milestone {
  /** A short name, stable for tools reading --json events. */
  id: 'firmware' | 'loader' | 'kernel' | 'initrd' | 'systemd' | 'target' | 'sshd' | 'login';
  /** What an operator reads. */
  text: string;
}

const RULES: { re: RegExp; id: Milestone['id']; text: (m: RegExpExecArray) => string }[] = [
  { re: /BdsDxe: (?:loading|starting) Boot\w+ "([^"]*)"/, id: 'firmware', text: (m) => `firmware: starting ${m[1]}` },
  { re: /^EFI stub: /, id: 'loader', text: () => 'EFI stub: loading the kernel and initrd' },
  { re: /\] Linux version (\S+)/, id: 'kernel', text: (m) => `kernel ${m[1]}` },
  { re: /\] Run (\S+) as init process/, id: 'initrd', text: (m) => `initrd (${m[1]})` },
  { re: /Welcome to (.+?)!?$/, id: 'systemd', text: (m) => `systemd: ${m[1]!.trim()}` },
  { re: /Reached target (sysinit|basic|network|multi-user|graphical)\.target/, id: 'target', text: (m) => `${m[1]}.target` },
  { re: /Started (sshd?\.service)/, id: 'sshd', text: (m) => `${m[1]} started` },
  { re: /^\S+ login: /, id: 'login', text: () => 'login prompt' },
];

export function milestoneOf(line: string): Milestone | undefined {
  for (const r of RULES) {
    const m = r.re.exec(line);
    if (m) return { id: r.id, text: r.text(m) };
  }
  return undefined;
}
