import t from 'tap';
import { UsageError } from '../src/errors.js';
import { kvmProbeArgs, passtArgs, qemuArgs, type KernelBootProfile, type QemuProfile } from '../src/vm/qemu-args.js';
import { pure } from './helpers/argv.js';

const profile = (over: Partial<QemuProfile> = {}): QemuProfile => ({
  accel: 'kvm',
  cpus: 2,
  memoryMiB: 2048,
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  ovmfVars: '/var/tmp/bootc-harness/run-1/OVMF_VARS.fd',
  disk: { path: '/var/tmp/bootc-harness/run-1/disk.qcow2', format: 'qcow2' },
  sshPort: 40222,
  qmpSocket: '/var/tmp/bootc-harness/run-1/qmp.sock',
  ...over,
});

/** The value that follows each occurrence of `flag`. */
function valuesOf(args: readonly string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag) out.push(args[i + 1]!);
  });
  return out;
}

/** True when `seq` occurs contiguously in `args`. */
function hasSeq(args: readonly string[], seq: readonly string[]): boolean {
  for (let i = 0; i + seq.length <= args.length; i++) {
    if (seq.every((s, j) => args[i + j] === s)) return true;
  }
  return false;
}

t.test('kvm uses the host CPU', async (t) => {
  const a = qemuArgs(profile({ accel: 'kvm' }));
  t.equal(a[0], 'qemu-system-x86_64', 'argv[0] is the emulator');
  t.ok(hasSeq(a, ['-accel', 'kvm']), '-accel kvm');
  t.ok(hasSeq(a, ['-cpu', 'host']), '-cpu host');
  t.same(valuesOf(a, '-accel'), ['kvm'], 'exactly one -accel');
  t.same(valuesOf(a, '-cpu'), ['host'], 'exactly one -cpu');
  t.notOk(a.some((x) => x.startsWith('tcg')), 'no tcg anywhere');
});

t.test('tcg is multi-threaded with -cpu max', async (t) => {
  const a = qemuArgs(profile({ accel: 'tcg' }));
  t.ok(hasSeq(a, ['-accel', 'tcg,thread=multi']), '-accel tcg,thread=multi');
  t.ok(hasSeq(a, ['-cpu', 'max']), '-cpu max');
  t.same(valuesOf(a, '-accel'), ['tcg,thread=multi']);
  t.same(valuesOf(a, '-cpu'), ['max']);
  t.notOk(a.includes('host'), 'no host CPU under TCG');
  t.notOk(a.includes('kvm'), 'no kvm under TCG');
});

t.test('cpus and memory are passed as numbers', async (t) => {
  const a = qemuArgs(profile({ cpus: 4, memoryMiB: 3072 }));
  t.same(valuesOf(a, '-smp'), ['4']);
  t.same(valuesOf(a, '-m'), ['3072']);
});

t.test('ssh is forwarded on loopback only, to the given port', async (t) => {
  const a = qemuArgs(profile({ sshPort: 45678 }));
  const netdevs = valuesOf(a, '-netdev');
  t.equal(netdevs.length, 1, 'one netdev');
  const nd = netdevs[0]!;
  t.match(nd, /^user,id=net0,/, 'user-mode networking');
  const fwds = nd.split(',').filter((o) => o.startsWith('hostfwd='));
  t.same(fwds, ['hostfwd=tcp:127.0.0.1:45678-:22'], 'exactly one forward: 127.0.0.1:45678 -> guest 22');
  t.notMatch(nd, /0\.0\.0\.0|hostfwd=tcp::/, 'never bound to all interfaces');
  t.ok(valuesOf(a, '-device').includes('virtio-net-pci,netdev=net0'), 'the NIC uses that netdev');
});

t.test('the guest network is isolated by default: restrict=on, so the guest reaches neither the host loopback nor any network', async (t) => {
  for (const p of [profile(), profile({ network: { mode: 'isolated' } })]) {
    const nd = valuesOf(qemuArgs(p), '-netdev');
    t.equal(nd.length, 1);
    const opts = nd[0]!.split(',');
    t.equal(opts[0], 'user', 'user-mode net (slirp)');
    // QEMU(1) -netdev user: "restrict=on|off: If this option is enabled, the guest will be
    // isolated, i.e. it will not be able to contact the host and no guest IP packets will be
    // routed over the host to the outside. This option does not affect any explicitly set
    // forwarding rules." Without it, slirp maps 10.0.2.2 (and every other address of its
    // network) to the host's 127.0.0.1.
    t.ok(opts.includes('restrict=on'), 'restrict=on');
    t.notOk(opts.some((o) => o.startsWith('guestfwd=')), 'no guestfwd: nothing of the host is offered to the guest');
    t.same(opts.filter((o) => o.startsWith('hostfwd=')), ['hostfwd=tcp:127.0.0.1:40222-:22'], 'the SSH forward still there (restrict leaves hostfwd working)');
  }
});

t.test('outbound network (a profile opt-in): sshd stays on the isolated NIC; a second NIC on passt\'s socket', async (t) => {
  const a = qemuArgs(profile({ network: { mode: 'outbound', passtSocket: '/tmp/bh-passt-x/passt.sock' } }));
  const nd = valuesOf(a, '-netdev');
  t.equal(nd.length, 2, 'two NICs');
  const user = nd.find((n) => n.startsWith('user,'))!.split(',');
  t.ok(user.includes('restrict=on'), "the slirp NIC is still restricted: its 10.0.2.2 would be the host's loopback");
  t.same(user.filter((o) => o.startsWith('hostfwd=')), ['hostfwd=tcp:127.0.0.1:40222-:22'], 'sshd reached through it, on loopback only');
  t.ok(nd.includes('stream,id=net1,server=off,addr.type=unix,addr.path=/tmp/bh-passt-x/passt.sock'), 'the other on passt, QEMU connecting to its socket');
  t.same(valuesOf(a, '-device').filter((d) => d.startsWith('virtio-net-pci')), ['virtio-net-pci,netdev=net0', 'virtio-net-pci,netdev=net1'], 'one virtio NIC each');
  t.throws(() => qemuArgs(profile({ network: { mode: 'outbound', passtSocket: 'rel.sock' } })), UsageError);
});

t.test('passt: the gateway is not the host, nothing forwarded in, ends with QEMU, unprivileged', async (t) => {
  const a = passtArgs({ socket: '/tmp/bh-passt-x/passt.sock' });
  t.equal(a[0], 'passt');
  t.ok(a.includes('--no-map-gw'), "--no-map-gw: passt(1) \"Don't map gateway address to host\": the host's loopback is out of reach");
  t.same(valuesOf(a, '-t'), ['none'], 'no TCP forward in');
  t.same(valuesOf(a, '-u'), ['none'], 'no UDP forward in');
  t.ok(a.includes('-1'), 'one client: passt exits when QEMU goes');
  t.ok(a.includes('-f'), 'foreground: in our process group, stopped with it');
  t.same(valuesOf(a, '--runas'), ['nobody']);
  t.same(valuesOf(a, '--socket'), ['/tmp/bh-passt-x/passt.sock']);
  t.throws(() => passtArgs({ socket: 'x.sock' }), UsageError);
  pure(t, a, 'passt');
});

t.test('QEMU runs under its seccomp sandbox, in every VM the harness starts', async (t) => {
  for (const [what, a] of [['test VM', qemuArgs(profile())], ['installer VM', qemuArgs(kernelBoot())], ['KVM probe', kvmProbeArgs('/k/vmlinuz')]] as const) {
    const sb = valuesOf(a, '-sandbox');
    t.equal(sb.length, 1, `${what}: one -sandbox`);
    const opts = sb[0]!.split(',');
    t.equal(opts[0], 'on', `${what}: on`);
    // qemu(1): obsolete (old syscalls), elevateprivileges (set*uid/gid), spawn (fork/execve), resourcecontrol (sched/affinity).
    for (const o of ['obsolete=deny', 'elevateprivileges=deny', 'spawn=deny', 'resourcecontrol=deny']) t.ok(opts.includes(o), `${what}: ${o}`);
  }
});

t.test('pflash: firmware code read-only, vars per VM and writable', async (t) => {
  const p = profile({ ovmfCode: '/fw/CODE.fd', ovmfVars: '/run/vm7/VARS.fd' });
  const pflash = valuesOf(qemuArgs(p), '-drive').filter((d) => d.startsWith('if=pflash'));
  t.equal(pflash.length, 2, 'two pflash drives');
  const code = pflash.find((d) => d.includes('unit=0'))!;
  const vars = pflash.find((d) => d.includes('unit=1'))!;
  t.ok(code, 'unit 0 exists');
  t.ok(vars, 'unit 1 exists');
  t.match(code, /(^|,)readonly=on(,|$)/, 'code is read-only');
  t.match(code, /(^|,)file=\/fw\/CODE\.fd$/, 'code is the OVMF code file');
  t.match(code, /(^|,)format=raw(,|$)/);
  t.notMatch(vars, /readonly/, 'vars are writable');
  t.match(vars, /(^|,)file=\/run\/vm7\/VARS\.fd$/, 'vars are the per-VM copy');
  t.match(vars, /(^|,)format=raw(,|$)/);
  t.ok(pflash.indexOf(code) < pflash.indexOf(vars), 'code comes before vars');
});

t.test('root disk: virtio-blk, boot index 1, the given format', async (t) => {
  const a = qemuArgs(profile({ disk: { path: '/d/root.raw', format: 'raw' } }));
  const drives = valuesOf(a, '-drive').filter((d) => d.includes('id=disk0'));
  t.equal(drives.length, 1);
  t.match(drives[0]!, /^file=\/d\/root\.raw,format=raw,if=none,id=disk0,/);
  t.ok(valuesOf(a, '-device').includes('virtio-blk-pci,drive=disk0,bootindex=1'));
});

t.test('TPM flags appear only with a tpmSocket', async (t) => {
  const without = qemuArgs(profile());
  t.notOk(without.includes('-tpmdev'), 'no -tpmdev without a socket');
  t.notOk(without.some((x) => /tpm/i.test(x)), 'no tpm word at all without a socket');

  const a = qemuArgs(profile({ tpmSocket: '/run/vm7/tpm.sock' }));
  t.same(valuesOf(a, '-tpmdev'), ['emulator,id=tpm0,chardev=tpmchr']);
  t.ok(valuesOf(a, '-chardev').includes('socket,id=tpmchr,path=/run/vm7/tpm.sock'), 'chardev on the swtpm socket');
  t.ok(valuesOf(a, '-device').includes('tpm-crb,tpmdev=tpm0'), 'TPM CRB device');
});

t.test('extra disks are attached with their serials', async (t) => {
  const none = qemuArgs(profile());
  t.notOk(none.some((x) => x.includes('extra')), 'no extra disks unless asked');

  const a = qemuArgs(
    profile({
      extraDisks: [
        { path: '/d/a.qcow2', format: 'qcow2', serial: 'data-a' },
        { path: '/d/b.raw', format: 'raw', serial: 'data-b' },
      ],
    }),
  );
  const drives = valuesOf(a, '-drive');
  t.ok(drives.includes('file=/d/a.qcow2,format=qcow2,if=none,id=extra0,cache=unsafe'));
  t.ok(drives.includes('file=/d/b.raw,format=raw,if=none,id=extra1,cache=unsafe'));
  const devices = valuesOf(a, '-device');
  t.ok(devices.includes('virtio-blk-pci,drive=extra0,serial=data-a'));
  t.ok(devices.includes('virtio-blk-pci,drive=extra1,serial=data-b'));
  t.notOk(devices.some((d) => /drive=extra\d.*bootindex/.test(d)), 'extra disks are not bootable');
});

t.test('serial console on a stdio chardev with signal=off; QMP on a unix socket', async (t) => {
  const a = qemuArgs(profile({ qmpSocket: '/run/vm7/qmp.sock' }));
  t.ok(valuesOf(a, '-chardev').includes('stdio,id=console,signal=off'));
  t.same(valuesOf(a, '-serial'), ['chardev:console'], 'one serial port, on that chardev');
  t.same(valuesOf(a, '-qmp'), ['unix:/run/vm7/qmp.sock,server=on,wait=off']);
  t.ok(a.includes('-nodefaults'), 'no default devices (no stray serial/monitor)');
  t.same(valuesOf(a, '-display'), ['none']);
  t.notOk(a.includes('-monitor'), 'no monitor on stdio');
});

t.test('argv purity: one token per element, values kept whole', async (t) => {
  const full = profile({
    accel: 'tcg',
    tpmSocket: '/run/vm7/tpm.sock',
    extraDisks: [{ path: '/d/a.qcow2', format: 'qcow2', serial: 's1' }],
  });
  for (const a of [qemuArgs(full), qemuArgs(profile())]) {
    t.same(
      a.filter((x) => !/^\S+$/.test(x)),
      [],
      'no element is empty or holds whitespace',
    );
    t.same(
      a.filter((x) => /[;|&$`<>"'\\]/.test(x)),
      [],
      'no element holds shell metacharacters or quoting',
    );
    t.ok(a.every((x) => typeof x === 'string'), 'all strings');
  }
  // A path with a space stays inside its own element: nothing is split or quoted.
  const spaced = qemuArgs(profile({ disk: { path: '/tmp/my disk.qcow2', format: 'qcow2' } }));
  t.equal(spaced.filter((x) => x.includes('my disk')).length, 1);
  t.ok(spaced.some((x) => x.startsWith('file=/tmp/my disk.qcow2,')), 'path kept whole, unquoted');
  t.equal(spaced.length, qemuArgs(profile()).length, 'same number of elements');
});

t.test('kvmProbeArgs: the kernel, no disk, no reboot', async (t) => {
  const a = kvmProbeArgs('/rootfs/usr/lib/modules/6.12.0/vmlinuz');
  t.equal(a[0], 'qemu-system-x86_64');
  t.ok(a.includes('-no-reboot'), '-no-reboot');
  t.same(valuesOf(a, '-kernel'), ['/rootfs/usr/lib/modules/6.12.0/vmlinuz'], 'the given kernel');
  t.ok(hasSeq(a, ['-accel', 'kvm']) && hasSeq(a, ['-cpu', 'host']), 'probes KVM');
  t.notOk(a.includes('-drive'), 'no disk');
  t.ok(valuesOf(a, '-chardev').includes('stdio,id=console,signal=off'));
  const append = valuesOf(a, '-append');
  t.equal(append.length, 1);
  t.ok(append[0]!.split(' ').includes('console=ttyS0'), 'kernel talks on the serial port');
  t.ok(append[0]!.split(' ').includes('panic=-1'), 'a panic ends QEMU at once');
  // Every element but the -append value is one token.
  const appendIdx = a.indexOf('-append') + 1;
  t.same(
    a.filter((x, i) => i !== appendIdx && !/^\S+$/.test(x)),
    [],
    'every element but the -append value is a single token',
  );
});

t.test('a comma in a path is doubled, as QEMU option syntax requires', async (t) => {
  const args = qemuArgs({
    accel: 'tcg',
    cpus: 1,
    memoryMiB: 512,
    ovmfCode: '/fw/code.fd',
    ovmfVars: '/run/a,b/vars.fd',
    disk: { path: '/run/a,b/disk.raw', format: 'raw' },
    sshPort: 2222,
    qmpSocket: '/run/a,b/qmp.sock',
  });
  t.ok(args.includes('if=pflash,format=raw,unit=1,file=/run/a,,b/vars.fd'));
  t.ok(args.includes('file=/run/a,,b/disk.raw,format=raw,if=none,id=disk0,cache=unsafe,discard=unmap'));
  t.ok(args.includes('unix:/run/a,,b/qmp.sock,server=on,wait=off'));
});

t.test('scratch disks: sparse files named by serial in the guest', async (t) => {
  const { createScratchDisks, scratchDiskSpec } = await import('../src/vm/scratch-disks.js');
  const { mkdtempSync, statSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  t.same(scratchDiskSpec(0), { serial: 'bh-scratch0', sizeGiB: 1, guestPath: '/dev/disk/by-id/virtio-bh-scratch0' });
  const dir = mkdtempSync(`${tmpdir()}/bh-scratch-`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(createScratchDisks(dir, 0), { host: [], guest: [] }, 'none asked, none made');
  const two = createScratchDisks(dir, 2);
  t.same(two.guest.map((g) => g.serial), ['bh-scratch0', 'bh-scratch1']);
  for (const d of two.host) {
    const st = statSync(d.path);
    t.equal(st.size, 1024 ** 3, `${d.serial} is 1 GiB`);
    t.ok(st.blocks * 512 < 1024 * 1024, `${d.serial} is sparse (allocates nothing up front)`);
  }
  const args = qemuArgs(profile({ extraDisks: two.host }));
  t.ok(valuesOf(args, '-device').includes('virtio-blk-pci,drive=extra1,serial=bh-scratch1'), 'the serial the guest path is named by');
});

t.test('a vsock device only where the host has vhost-vsock, with the CID asked for', async (t) => {
  const { hostHasVsock } = await import('../src/vm/qemu-args.js');
  t.equal(hostHasVsock((p) => p === '/dev/vhost-vsock'), true);
  t.equal(hostHasVsock(() => false), false);
  const base = { accel: 'tcg' as const, cpus: 2, memoryMiB: 2048, ovmfCode: '/c', ovmfVars: '/v', disk: { path: '/d', format: 'qcow2' as const }, sshPort: 2222, qmpSocket: '/q' };
  const { qemuArgs } = await import('../src/vm/qemu-args.js');
  t.notOk(qemuArgs(base).some((a) => a.includes('vsock')), 'none unless asked');
  const args = qemuArgs({ ...base, vsockCid: 40123 });
  t.equal(args[args.indexOf('-device', args.findIndex((a) => a.startsWith('vhost-vsock')) - 1) + 1], 'vhost-vsock-pci,guest-cid=40123');
});

// ---- the installer VM: a kernel boot of the same machine -------------------------------

const RUN = '/var/tmp/bootc-harness/run-1';
const kernelBoot = (over: Partial<KernelBootProfile> = {}): KernelBootProfile => ({
  boot: 'kernel',
  accel: 'tcg',
  cpus: 2,
  memoryMiB: 4096,
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  ovmfVars: `${RUN}/installer-OVMF_VARS.fd`,
  qmpSocket: `${RUN}/installer-qmp.sock`,
  kernel: `${RUN}/vmlinuz`,
  initrd: `${RUN}/initrd.img`,
  kargs: ['console=ttyS0', 'root=rootfs', 'rootfstype=virtiofs'],
  shares: [{ tag: 'rootfs', socket: `${RUN}/vfs-rootfs.sock` }, { tag: 'hoststorage', socket: `${RUN}/vfs-hoststorage.sock` }],
  disks: [{ path: `${RUN}/disk.raw`, format: 'raw', serial: 'bh-target' }],
  tpmSocket: `${RUN}/tpm.sock`,
  ...over,
});

t.test('installer VM: the same machine, firmware, console, monitor and TPM as the test VM', async (t) => {
  const installer = kernelBoot();
  const test = profile({ accel: 'tcg', cpus: 2, memoryMiB: 4096, ovmfCode: installer.ovmfCode, tpmSocket: installer.tpmSocket! });
  const [a, b] = [qemuArgs(installer), qemuArgs(test)];
  for (const flag of ['-machine', '-accel', '-cpu', '-smp', '-m', '-serial', '-tpmdev']) t.same(valuesOf(a, flag), valuesOf(b, flag), `${flag} as the test VM's`);
  t.equal(valuesOf(a, '-drive').find((d) => d.includes('unit=0')), valuesOf(b, '-drive').find((d) => d.includes('unit=0')), "the test VM's firmware code, so PCR 7 matches at the test boot");
  t.ok(valuesOf(a, '-drive').includes(`if=pflash,format=raw,unit=1,file=${RUN}/installer-OVMF_VARS.fd`), 'its own copy of the variables');
  t.same(valuesOf(a, '-qmp'), [`unix:${RUN}/installer-qmp.sock,server=on,wait=off`], 'a monitor, like every VM the harness runs');
  t.ok(valuesOf(a, '-device').includes('tpm-crb,tpmdev=tpm0'));
  pure(t, a, 'installer VM');
});

t.test('installer VM: boots the image kernel with its root on virtiofs, no network, ends on reboot', async (t) => {
  const a = qemuArgs(kernelBoot());
  t.same(valuesOf(a, '-kernel'), [`${RUN}/vmlinuz`]);
  t.same(valuesOf(a, '-initrd'), [`${RUN}/initrd.img`]);
  t.same(valuesOf(a, '-append'), ['console=ttyS0 root=rootfs rootfstype=virtiofs'], 'the kernel arguments as one string');
  t.ok(a.includes('-no-reboot'), 'a panic (panic=-1) ends QEMU instead of looping');
  t.notOk(a.some((x) => /netdev|virtio-net|hostfwd/.test(x)), 'no network: nothing reaches in or out');
  t.ok(hasSeq(a, ['-object', 'memory-backend-memfd,id=mem,size=4096M,share=on']), 'guest RAM shared: virtiofsd maps it');
  for (const tag of ['rootfs', 'hoststorage']) {
    t.ok(valuesOf(a, '-device').includes(`vhost-user-fs-pci,queue-size=1024,chardev=vfs-${tag},tag=${tag}`), `share ${tag}`);
    t.ok(valuesOf(a, '-chardev').includes(`socket,id=vfs-${tag},path=${RUN}/vfs-${tag}.sock`), `${tag} on its virtiofsd's socket`);
  }
  t.ok(valuesOf(a, '-device').includes('virtio-blk-pci,drive=disk0,serial=bh-target'), 'the target, by serial');
  t.notOk(valuesOf(a, '-device').some((d) => d.includes('bootindex')), 'the firmware boots the kernel, not the target disk');
  const noShares = qemuArgs(kernelBoot({ shares: [] }));
  t.notOk(noShares.includes('memory-backend-memfd,id=mem,size=4096M,share=on'), 'shared memory only for shares');
});

t.test('installer VM: the result port and extra disks, only when asked', async (t) => {
  const none = qemuArgs(kernelBoot());
  t.notOk(none.some((x) => x.includes('virtserialport')), 'no result port unless asked');
  const a = qemuArgs(kernelBoot({ resultPort: { name: 'org.bootc-harness.install-result', file: `${RUN}/result,1.txt` }, disks: [{ path: `${RUN}/disk.raw`, format: 'raw', serial: 'bh-target' }, { path: `${RUN}/swap.img`, format: 'raw', serial: 'bh-swap' }] }));
  t.ok(valuesOf(a, '-chardev').includes(`file,id=result,path=${RUN}/result,,1.txt`), 'written by QEMU to the file; a comma doubled');
  t.ok(valuesOf(a, '-device').includes('virtserialport,bus=vser0.0,chardev=result,name=org.bootc-harness.install-result'), 'named for the guest');
  t.ok(valuesOf(a, '-device').includes('virtio-blk-pci,drive=disk1,serial=bh-swap'), 'the second disk by its serial');
});

t.test('installer VM: bad input is refused before QEMU runs', async (t) => {
  t.throws(() => qemuArgs(kernelBoot({ kernel: 'vmlinuz' })), UsageError, 'relative kernel');
  t.throws(() => qemuArgs(kernelBoot({ cpus: 0 })), UsageError);
  t.throws(() => qemuArgs(kernelBoot({ memoryMiB: 100 })), UsageError);
  t.throws(() => qemuArgs(kernelBoot({ kargs: ['a b'] })), UsageError, 'one argument per element');
  t.throws(() => qemuArgs(kernelBoot({ kargs: ['x'.repeat(2048)] })), UsageError, 'the x86 command line limit');
  t.throws(() => qemuArgs(kernelBoot({ disks: [{ path: `${RUN}/d.raw`, format: 'raw', serial: 'no spaces allowed' }] })), UsageError, 'virtio-blk serial');
  t.throws(() => qemuArgs(kernelBoot({ shares: [{ tag: 'a tag', socket: `${RUN}/s.sock` }] })), UsageError, 'virtiofs tag');
});
