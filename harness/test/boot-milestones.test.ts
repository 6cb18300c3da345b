// The boot's progress is read from the console: each landmark of a UEFI + systemd boot is
// named, in the order a real boot prints them; ordinary lines name nothing.
import t from 'tap';
import { milestoneOf } from '../src/vm/boot-milestones.js';

// Lines as a trixie fixture's boot printed them (ANSI colours already stripped by ConsoleWatch).
const BOOT = [
  'BdsDxe: loading Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)',
  'EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path',
  '[    0.000000] Linux version 6.12.117+deb13-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0',
  '[    0.000000] Command line: initrd=\\6.12.117+deb13-amd64\\initrd root=UUID=31a08ada rw',
  '[    6.068741] Run /init as init process',
  'Welcome to Debian GNU/Linux 13 (trixie)!',
  '[  OK  ] Reached target paths.target - Path Units.',
  '[  OK  ] Reached target sysinit.target - System Initialization.',
  '[  OK  ] Reached target multi-user.target - Multi-User System.',
  '[  OK  ] Started ssh.service - OpenBSD Secure Shell server.',
  'vm login: [   31.719491] kvm_amd: Nested Virtualization enabled',
];

t.test('a boot reads as its landmarks, in order', async (t) => {
  const seen = BOOT.map(milestoneOf).filter((m) => m !== undefined);
  t.same(seen.map((m) => m.id), ['firmware', 'loader', 'kernel', 'initrd', 'systemd', 'target', 'target', 'sshd', 'login']);
  t.equal(seen[2]!.text, 'kernel 6.12.117+deb13-amd64', 'the kernel names its release');
  t.equal(seen[4]!.text, 'systemd: Debian GNU/Linux 13 (trixie)', 'systemd names the OS it boots');
  t.same(seen.filter((m) => m.id === 'target').map((m) => m.text), ['sysinit.target', 'multi-user.target'], 'only the targets every boot passes, not each of the dozens');
});

t.test('ordinary lines and look-alikes name nothing', async (t) => {
  for (const l of ['[   13.78] systemd-ssh-generator[249]: Failed to query local AF_VSOCK CID', '[  OK  ] Reached target swap.target - Swaps.', '         Starting ssh.service - OpenBSD Secure Shell server...', 'Command line: Linux version in a kernel argument']) {
    t.equal(milestoneOf(l), undefined, l);
  }
});
