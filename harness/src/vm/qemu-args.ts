// Pure: the QEMU command line for a VM: booted from its disk (the test VM), or from the image's
// own kernel with its root shared by virtiofsd (the installer VM). Unit-tested, so every flag is
// deliberate. Both share the machine, firmware, console, monitor and TPM arguments.
import { UsageError } from '../errors.js';

export type Accel = 'kvm' | 'tcg';

/** What every VM the harness starts has: the machine, UEFI firmware, a monitor, maybe a TPM. */
interface MachineProfile {
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  ovmfCode: string;
  ovmfVars: string;
  qmpSocket: string;
  tpmSocket?: string;
  /** Appended verbatim, e.g. SMBIOS credentials. */
  extraArgs?: readonly string[];
}

/**
 * The test VM's network. 'isolated' (the default): QEMU's user-mode stack with restrict=on, so the
 * guest opens no connection anywhere (not the host's loopback, which slirp otherwise maps to
 * 10.0.2.2, not the LAN, not the internet); the hostfwd for sshd still works, and slirp's DHCP
 * then offers no router. 'outbound' (a profile's opt-in) adds a second NIC on passt, which NATs
 * the guest's connections out and offers the default route; passt runs with --no-map-gw, so no
 * guest address leads to the host's loopback (slirp cannot be told that: every address of its
 * network but the DNS one maps to 127.0.0.1). sshd stays on the isolated NIC: with --no-map-gw,
 * passt (this version) would hand an inbound forward to the guest with the host's 127.0.0.1 as
 * its source, which the guest drops (tried: the boot never heard SSH).
 */
export type GuestNetwork = { mode: 'isolated' } | { mode: 'outbound'; passtSocket: string };

/** The test VM: UEFI boots the installed disk; sshd is forwarded on loopback. */
export interface QemuProfile extends MachineProfile {
  boot?: 'disk';
  disk: { path: string; format: 'raw' | 'qcow2' };
  extraDisks?: SerialDisk[];
  sshPort: number;
  /** Default { mode: 'isolated' }. */
  network?: GuestNetwork;
  /** A vsock device with this guest CID (unique among the host's VMs), where the host has /dev/vhost-vsock. */
  vsockCid?: number;
}

/** A virtio-blk disk the guest finds as /dev/disk/by-id/virtio-<serial>. */
export interface SerialDisk {
  path: string;
  format: 'raw' | 'qcow2';
  serial: string;
}

/** The installer VM: the image's kernel and initramfs, its root a virtiofs share, no network. */
export interface KernelBootProfile extends MachineProfile {
  boot: 'kernel';
  kernel: string;
  initrd: string;
  /** One argument per element, joined into one -append. */
  kargs: readonly string[];
  /** vhost-user-fs devices: a virtiofsd socket per tag. */
  shares: readonly { tag: string; socket: string }[];
  disks: readonly SerialDisk[];
  /** A virtio-serial port (/dev/virtio-ports/<name>) whose output QEMU writes to `file`. */
  resultPort?: { name: string; file: string };
}

/** The kernel's console: every VM's -serial is its first serial port. */
export const SERIAL_CONSOLE_KARG = 'console=ttyS0';

/** x86 COMMAND_LINE_SIZE, including the terminating NUL. */
const KERNEL_CMDLINE_MAX = 2048;

/** Can VMs here have a vsock device? (vhost-vsock is the host side of virtio-vsock.) */
export function hostHasVsock(exists: (p: string) => boolean): boolean {
  return exists('/dev/vhost-vsock');
}

/** QEMU option values are comma-separated: a comma inside a path is written twice. */
export function qemuValue(path: string): string {
  return path.replace(/,/g, ',,');
}
const v = qemuValue;

export function absolute(what: string, p: string): void {
  if (!p.startsWith('/')) throw new UsageError(`${what} must be an absolute path, got ${JSON.stringify(p)}`);
  if (/[\0\n]/.test(p)) throw new UsageError(`${what} contains a NUL or newline`);
}

/** virtio-blk serials are at most 20 bytes (VIRTIO_BLK_ID_BYTES); udev names the disk by it. */
export function checkSerial(serial: string): void {
  if (!/^[A-Za-z0-9_-]{1,20}$/.test(serial)) throw new UsageError(`bad virtio-blk serial ${JSON.stringify(serial)}: 1-20 of [A-Za-z0-9_-]`);
}

/** virtio-fs tags are at most 36 bytes (the device config field). */
export function checkTag(tag: string): void {
  if (!/^[A-Za-z0-9_-]{1,36}$/.test(tag)) throw new UsageError(`bad virtiofs tag ${JSON.stringify(tag)}`);
}

/** Pure: machine, accelerator, CPUs and memory, shared by every VM the harness starts. */
export function machineArgs(p: { accel: Accel; cpus: number; memoryMiB: number }): string[] {
  if (!Number.isInteger(p.cpus) || p.cpus < 1) throw new UsageError(`bad cpu count ${p.cpus}`);
  if (!Number.isInteger(p.memoryMiB) || p.memoryMiB < 256) throw new UsageError(`bad memory size ${p.memoryMiB} MiB`);
  return [
    '-machine', 'q35,smm=off',
    // KVM wants the host CPU; TCG multi-threaded with every feature QEMU can emulate.
    ...(p.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(p.cpus),
    '-m', String(p.memoryMiB),
  ];
}

/**
 * QEMU's seccomp filter (qemu(1) -sandbox): on, and also no obsolete system calls, no set*uid or
 * set*gid, no fork or exec, no changing of scheduling or affinity. None of these is needed once
 * QEMU runs: its chardevs to swtpm and virtiofsd are sockets it connects to, and nothing here
 * spawns a helper (no smb=, no bridge helper, no script=).
 */
export const SECCOMP = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** The console on stdout (read live by ConsoleWatch), the monitor, and the UEFI firmware. */
function commonArgs(p: MachineProfile): string[] {
  return [
    '-sandbox', SECCOMP,
    '-nodefaults',
    '-display', 'none',
    '-no-user-config',
    // signal=off: ^C goes to us, not the guest.
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-qmp', `unix:${v(p.qmpSocket)},server=on,wait=off`,
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${v(p.ovmfCode)}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${v(p.ovmfVars)}`,
  ];
}

function tpmArgs(socket: string | undefined): string[] {
  return socket ? ['-chardev', `socket,id=tpmchr,path=${v(socket)}`, '-tpmdev', 'emulator,id=tpm0,chardev=tpmchr', '-device', 'tpm-crb,tpmdev=tpm0'] : [];
}

function serialDiskArgs(id: string, d: SerialDisk, discard: boolean): string[] {
  checkSerial(d.serial);
  return [
    '-drive', `file=${v(d.path)},format=${d.format},if=none,id=${id},cache=unsafe${discard ? ',discard=unmap' : ''}`,
    '-device', `virtio-blk-pci,drive=${id},serial=${d.serial}`,
  ];
}

export function qemuArgs(p: QemuProfile | KernelBootProfile): string[] {
  return p.boot === 'kernel' ? kernelBootArgs(p) : diskBootArgs(p);
}

function diskBootArgs(p: QemuProfile): string[] {
  const args = [
    'qemu-system-x86_64',
    '-name', 'bootc-harness',
    ...machineArgs(p),
    ...commonArgs(p),
    '-drive', `file=${v(p.disk.path)},format=${p.disk.format},if=none,id=disk0,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=disk0,bootindex=1',
    ...netArgs(p.network ?? { mode: 'isolated' }, p.sshPort),
    '-device', 'virtio-rng-pci',
  ];
  for (const [i, d] of (p.extraDisks ?? []).entries()) args.push(...serialDiskArgs(`extra${i}`, d, false));
  // A stock image expects one: systemd-ssh-generator (systemd >= 256) asks for its AF_VSOCK CID at boot.
  if (p.vsockCid !== undefined) args.push('-device', `vhost-vsock-pci,guest-cid=${p.vsockCid}`);
  args.push(...tpmArgs(p.tpmSocket), ...(p.extraArgs ?? []));
  return args;
}

/** The guest's NICs. The only way in is sshd, forwarded on the host's loopback only, on the isolated one. */
function netArgs(n: GuestNetwork, sshPort: number): string[] {
  const isolated = ['-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${sshPort}-:22`, '-device', 'virtio-net-pci,netdev=net0'];
  if (n.mode === 'isolated') return isolated;
  // passt listens on the socket (passtArgs); QEMU connects.
  absolute('passt socket', n.passtSocket);
  return [...isolated, '-netdev', `stream,id=net1,server=off,addr.type=unix,addr.path=${v(n.passtSocket)}`, '-device', 'virtio-net-pci,netdev=net1'];
}

/**
 * Pure: passt for a guest that may connect out (a profile's `vm.network: "outbound"`). passt(1):
 * --no-map-gw: the gateway address is not the host (the guest cannot reach the host's loopback
 * through it); -t none, -u none: nothing forwarded in (sshd is on the isolated NIC); -e -q: its
 * few lines on stderr, not syslog; -f: stays in the foreground (our process group, so teardown
 * stops it); -1: it ends when QEMU closes its socket (as swtpm's --terminate); --runas nobody
 * (also passt's default when started as root).
 */
export function passtArgs(o: { socket: string }): string[] {
  absolute('passt socket', o.socket);
  return [
    'passt', '-f', '-e', '-q',
    '--socket', o.socket,
    '--no-map-gw',
    '-t', 'none', '-u', 'none',
    '-1',
    '--runas', 'nobody',
  ];
}

function kernelBootArgs(p: KernelBootProfile): string[] {
  const paths: [string, string][] = [
    ['kernel', p.kernel], ['initrd', p.initrd], ['firmware code', p.ovmfCode], ['firmware vars', p.ovmfVars], ['qmp socket', p.qmpSocket],
    ...p.shares.map((s): [string, string] => [`${s.tag} socket`, s.socket]),
    ...p.disks.map((d): [string, string] => [`disk ${d.serial}`, d.path]),
    ...(p.tpmSocket ? [['tpm socket', p.tpmSocket] as [string, string]] : []),
    ...(p.resultPort ? [['result file', p.resultPort.file] as [string, string]] : []),
  ];
  for (const [what, path] of paths) absolute(what, path);
  for (const k of p.kargs) if (k === '' || /\s/.test(k)) throw new UsageError(`bad kernel argument ${JSON.stringify(k)}`);
  const cmdline = p.kargs.join(' ');
  if (cmdline.length >= KERNEL_CMDLINE_MAX) throw new UsageError(`kernel command line is ${cmdline.length} bytes; x86 takes ${KERNEL_CMDLINE_MAX - 1}`);

  const args = [
    'qemu-system-x86_64',
    '-name', 'bootc-harness-installer',
    ...machineArgs(p),
    // vhost-user-fs: virtiofsd maps guest RAM, so it must be shared memory.
    ...(p.shares.length ? ['-object', `memory-backend-memfd,id=mem,size=${p.memoryMiB}M,share=on`, '-numa', 'node,memdev=mem'] : []),
    ...commonArgs(p),
    // The unit powers the VM off when it ends; a panic (panic=-1) reboots, which ends QEMU too.
    '-no-reboot',
    '-kernel', p.kernel, '-initrd', p.initrd, '-append', cmdline,
  ];
  for (const s of p.shares) {
    checkTag(s.tag);
    args.push('-chardev', `socket,id=vfs-${s.tag},path=${v(s.socket)}`);
    args.push('-device', `vhost-user-fs-pci,queue-size=1024,chardev=vfs-${s.tag},tag=${s.tag}`);
  }
  for (const [i, d] of p.disks.entries()) args.push(...serialDiskArgs(`disk${i}`, d, true));
  // cryptsetup and mkfs want entropy early.
  args.push('-device', 'virtio-rng-pci', ...tpmArgs(p.tpmSocket));
  if (p.resultPort) {
    args.push('-device', 'virtio-serial-pci,id=vser0');
    args.push('-chardev', `file,id=result,path=${v(p.resultPort.file)}`);
    args.push('-device', `virtserialport,bus=vser0.0,chardev=result,name=${p.resultPort.name}`);
  }
  args.push(...(p.extraArgs ?? []));
  return args;
}

/** Pure: the KVM probe: the guest's own kernel, no disk; real KVM gets it to a known line in a second or two. */
export function kvmProbeArgs(vmlinuz: string): string[] {
  return [
    'qemu-system-x86_64',
    '-sandbox', SECCOMP,
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
