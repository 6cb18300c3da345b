import t from 'tap';
import { UsageError } from '../src/errors.js';
import { systemdCredentialArgs } from '../src/vm/credentials.js';
import { oneshotUnitCredentialArgs, virtiofsRootKargs } from '../src/vm/oneshot-vm.js';

t.test('kernel command line: the root is the virtiofs share, the console the serial port, straight into the unit', async (t) => {
  const k = virtiofsRootKargs({ unitName: 'bootc-harness-install.service' });
  t.ok(k.includes('console=ttyS0'), 'the console QEMU reads');
  t.ok(k.includes('rootfstype=virtiofs') && k.includes('root=rootfs'), "the initrd's fstab generator mounts the share as /sysroot");
  t.ok(k.includes('rw'), 'writable: the share is a throwaway working container');
  t.ok(k.includes('systemd.firstboot=off'), 'no first-boot prompt can hold the boot');
  t.ok(k.includes('panic=-1'), 'a panic ends the VM (with -no-reboot) instead of hanging it');
  t.equal(k.at(-1), 'systemd.unit=bootc-harness-install.service', 'no getty, network or sshd: only the unit');
  t.ok(virtiofsRootKargs({ unitName: 'x.service', rootTag: 'root2' }).includes('root=root2'));
  t.throws(() => virtiofsRootKargs({ unitName: 'x.service', rootTag: 'root fs' }), UsageError);
});

t.test('the unit travels as SMBIOS credentials: the unit and a multi-user.target drop-in that wants it', async (t) => {
  const unit = '[Unit]\nDescription=x\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n';
  const q = oneshotUnitCredentialArgs('bootc-harness-install.service', unit);
  t.same([q[0], q[2]], ['-smbios', '-smbios']);
  const decode = (s: string) => {
    const m = /^type=11,value=io\.systemd\.credential\.binary:([^=]+)=([A-Za-z0-9+/=]+)$/.exec(s);
    t.ok(m, `shape: ${s.slice(0, 60)}`);
    return [m![1], Buffer.from(m![2]!, 'base64').toString('utf8')];
  };
  t.same(decode(q[1]!), ['systemd.extra-unit.bootc-harness-install.service', unit], 'the unit, byte for byte');
  t.same(decode(q[3]!), ['systemd.unit-dropin.multi-user.target~bootc-harness-install', '[Unit]\nWants=bootc-harness-install.service\n'], 'pulled in by the default target');
  t.throws(() => systemdCredentialArgs('a,b', 'x'), UsageError, 'a comma would end value=');
  t.throws(() => systemdCredentialArgs('a=b', 'x'), UsageError);
  t.throws(() => oneshotUnitCredentialArgs('x.service', '[Unit]\n'), UsageError, 'not a service');
  t.throws(() => oneshotUnitCredentialArgs('x y.service', unit), UsageError, 'a unit name with a space');
});
