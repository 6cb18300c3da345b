// Pure: the QEMU command line for a VM profile. Unit-tested, so every flag is deliberate.

export type Accel = 'kvm' | 'tcg';

export interface QemuProfile {
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  ovmfCode: string;
  ovmfVars: string;
  disk: { path: string; format: 'raw' | 'qcow2' };
  extraDisks?: { path: string; format: 'raw' | 'qcow2'; serial: string }[];
  tpmSocket?: string;
  sshPort: number;
  qmpSocket: string;
  /** A vsock device with this guest CID (unique among the host's VMs), where the host has /dev/vhost-vsock. */
  vsockCid?: number;
  /** Appended verbatim, e.g. an SMBIOS credential from the installer. */
  extraArgs?: readonly string[];
}

/** Can VMs here have a vsock device? (vhost-vsock is the host side of virtio-vsock.) */
export function hostHasVsock(exists: (p: string) => boolean): boolean {
  return exists('/dev/vhost-vsock');
}

/** QEMU option values are comma-separated: a comma inside a path is written twice. */
export function qemuValue(path: string): string {
  return path.replace(/,/g, ',,');
}
const v = qemuValue;

/** Pure: machine, accelerator, CPUs and memory, shared by every VM the harness starts. */
export function machineArgs(p: { accel: Accel; cpus: number; memoryMiB: number }): string[] {
  return [
    '-machine', 'q35,smm=off',
    // KVM wants the host CPU; TCG multi-threaded with every feature QEMU can emulate.
    ...(p.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(p.cpus),
    '-m', String(p.memoryMiB),
  ];
}

export function qemuArgs(p: QemuProfile): string[] {
  const args = [
    'qemu-system-x86_64',
    '-name', 'bootc-harness',
    ...machineArgs(p),
    '-nodefaults',
    '-display', 'none',
    '-no-user-config',
    // Serial console on stdout, read live by ConsoleWatch; signal=off so ^C goes to us, not the guest.
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-qmp', `unix:${v(p.qmpSocket)},server=on,wait=off`,
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${v(p.ovmfCode)}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${v(p.ovmfVars)}`,
    '-drive', `file=${v(p.disk.path)},format=${p.disk.format},if=none,id=disk0,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=disk0,bootindex=1',
    // User-mode networking; the only way in is sshd, forwarded on loopback only.
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${p.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci',
  ];
  for (const [i, d] of (p.extraDisks ?? []).entries()) {
    args.push('-drive', `file=${v(d.path)},format=${d.format},if=none,id=extra${i},cache=unsafe`);
    args.push('-device', `virtio-blk-pci,drive=extra${i},serial=${d.serial}`);
  }
  // A stock image expects one: systemd-ssh-generator (systemd >= 256) asks for its AF_VSOCK CID at boot.
  if (p.vsockCid !== undefined) args.push('-device', `vhost-vsock-pci,guest-cid=${p.vsockCid}`);
  if (p.tpmSocket) {
    args.push('-chardev', `socket,id=tpmchr,path=${v(p.tpmSocket)}`, '-tpmdev', 'emulator,id=tpm0,chardev=tpmchr', '-device', 'tpm-crb,tpmdev=tpm0');
  }
  args.push(...(p.extraArgs ?? []));
  return args;
}

/** Pure: the KVM probe: the guest's own kernel, no disk; real KVM gets it to a known line in a second or two. */
export function kvmProbeArgs(vmlinuz: string): string[] {
  return [
    'qemu-system-x86_64',
    '-accel', 'kvm', '-cpu', 'host',
    '-m', '256', '-smp', '1',
    '-nodefaults', '-display', 'none', '-no-user-config', '-no-reboot',
    '-chardev', 'stdio,id=console,signal=off', '-serial', 'chardev:console',
    '-kernel', vmlinuz,
    '-append', 'console=ttyS0 panic=-1 root=/dev/bootc-harness-probe',
  ];
}

export const OVMF_CODE_CANDIDATES = ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/edk2/ovmf/OVMF_CODE.fd'];
export const OVMF_VARS_CANDIDATES = ['/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd', '/usr/share/edk2/ovmf/OVMF_VARS.fd'];
