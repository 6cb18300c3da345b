// bootc's install backend follows the image, as bootc decides it, and tier 4's expectation of an
// ostree deployment's root follows the image's prepare-root.conf, as ostree reads it (issue 25).
// The texts below are real files, quoted from their sources.
import t from 'tap';
import { bootcBackendOf, ostreeRootExpectation, parseKeyFile, readPrepareRoot, ukisOf } from '../src/install/bootc-backend.js';
import { bootcRecordOf } from '../src/install/bootc-install.js';
import { bootcInVmArgs } from '../src/install/bootc-vm-unit.js';
import { bootcInstallArgs } from '../src/install/bootc-command.js';

// bootc-dev/bootc baseimage/base/usr/lib/ostree/prepare-root.conf (commit 534c76ea), the base
// bootc's own images build on.
const BOOTC_BASEIMAGE = '[composefs]\nenabled = true\n';
// The Fedora/CentOS bootc base images' ostree.yaml postprocess (gitlab.com/fedora/bootc/base-images
// tier-0/ostree.yaml; centos-bootc tier-1 since CentOS/centos-bootc PR #356): composefs on,
// unsigned, and a read-only sysroot appended to the same file.
const CENTOS_BOOTC = '[composefs]\nenabled = yes\n[sysroot]\nreadonly = true\n';
// ostreedev/ostree docs/composefs.md, the signed mode ("enabled = signed" with a key).
const SIGNED = '[composefs]\nenabled = signed\nkeypath = /etc/ostree/initramfs-root-binding.key\n';
// The label set of quay.io/centos-bootc/centos-bootc:stream10 that bears on the install: bootc's
// lint and ostree's own (crates/ostree-ext/src/container/encapsulate.rs copies ostree.bootable);
// no label names a backend, so the backend is never read from labels.
const CENTOS_LABELS = { 'containers.bootc': '1', 'ostree.bootable': 'true' };

t.test('the backend: a UKI in /boot/EFI/Linux makes bootc use composefs (kernel.rs find_kernel, install.rs composefs_required); otherwise ostree', async (t) => {
  t.same(ukisOf(['6.12.0-55.el10.x86_64.efi', 'README', 'x.efi.addon']), ['6.12.0-55.el10.x86_64.efi'], '*.efi only, as find_uki_path');
  t.match(bootcBackendOf('auto', { ukis: [] }), { backend: 'ostree' }, 'a stock image (vmlinuz in /usr/lib/modules): ostree');
  t.match(bootcBackendOf('auto', { ukis: ['6.12.efi'] }), { backend: 'composefs', why: /UKI/ }, 'a sealed image: composefs');
  t.match(bootcBackendOf('composefs', { ukis: [] }), { backend: 'composefs', why: /asked/ }, 'forced, as debian-bootc\'s Justfile installs it');
  t.match(bootcBackendOf('ostree', { ukis: [] }), { backend: 'ostree' });
  t.notOk(Object.keys(CENTOS_LABELS).some((k) => /composefs/.test(k)), 'the labels say nothing of the backend');
});

t.test('prepare-root.conf as ostree reads it: the etc file replaces the usr/lib one; signed/verity/maybe/booleans', async (t) => {
  t.same(parseKeyFile(CENTOS_BOOTC), { composefs: { enabled: 'yes' }, sysroot: { readonly: 'true' } });
  t.same(readPrepareRoot([{ path: '/usr/lib/ostree/prepare-root.conf', text: BOOTC_BASEIMAGE }]), { composefs: 'yes', from: '/usr/lib/ostree/prepare-root.conf' }, '"true" is a boolean yes');
  t.same(readPrepareRoot([]), { composefs: 'no' }, 'no file: ostree\'s default, no');
  t.same(readPrepareRoot([{ path: '/usr/lib/ostree/prepare-root.conf', text: '[sysroot]\nreadonly = true\n' }]).composefs, 'no', 'no [composefs] enabled: no');
  t.same(
    readPrepareRoot([
      { path: '/usr/lib/ostree/prepare-root.conf', text: CENTOS_BOOTC },
      { path: '/etc/ostree/prepare-root.conf', text: '[composefs]\nenabled = no\n' },
    ]),
    { composefs: 'no', from: '/etc/ostree/prepare-root.conf' },
    'the later file is loaded afresh over the first',
  );
  t.equal(readPrepareRoot([{ path: '/usr/lib/ostree/prepare-root.conf', text: SIGNED }]).composefs, 'signed');
  t.throws(() => readPrepareRoot([{ path: '/usr/lib/ostree/prepare-root.conf', text: '[composefs]\nenabled = on\n' }]), /prepare-root\.conf: \[composefs\] enabled = "on" is not a value ostree takes/);
});

t.test("tier 4's expectation of an ostree root: composefs with verity required (signed, verity) or optional (yes), else none", async (t) => {
  const of = (text: string) => ostreeRootExpectation(readPrepareRoot([{ path: '/usr/lib/ostree/prepare-root.conf', text }]));
  t.same(of(CENTOS_BOOTC), { verity: 'optional' }, 'centos-bootc: a composefs root, fs-verity optional (unsigned)');
  t.same(of(BOOTC_BASEIMAGE), { verity: 'optional' });
  t.same(of(SIGNED), { verity: 'required' });
  t.same(of('[composefs]\nenabled = verity\n'), { verity: 'required' });
  t.same(of('[composefs]\nenabled = maybe\n'), null, 'maybe promises nothing');
  t.same(of('[composefs]\nenabled = no\n'), null);
});

t.test('the install record and command line of an ostree-backend image and a composefs-backend image', async (t) => {
  const centos = bootcRecordOf('auto', { efiLinux: [], prepareRoot: [{ path: '/usr/lib/ostree/prepare-root.conf', text: CENTOS_BOOTC }] });
  t.match(centos, { backend: 'ostree', ostreeRoot: { composefs: 'yes', from: '/usr/lib/ostree/prepare-root.conf', expect: { verity: 'optional' } } });
  const vm = (composefsBackend: boolean) => bootcInVmArgs({ imageRef: 'quay.io/centos-bootc/centos-bootc:stream10', targetSerial: 'bh-target', filesystem: 'ext4', kargs: [], composefsBackend, ...(composefsBackend ? {} : { authorizedKeysPath: '/var/lib/bootc-harness/authorized_keys' }) });
  const ostreeArgs = vm(centos.backend === 'composefs');
  t.notOk(ostreeArgs.includes('--composefs-backend'), 'the stock image installs on ostree, as bootc documents');
  t.ok(ostreeArgs.includes('--root-ssh-authorized-keys'), 'the ostree backend honours the key flag');

  const sealed = bootcRecordOf('auto', { efiLinux: ['6.12.0-55.el10.x86_64.efi'], prepareRoot: [{ path: '/usr/lib/ostree/prepare-root.conf', text: CENTOS_BOOTC }] });
  t.match(sealed, { backend: 'composefs' });
  t.notOk('ostreeRoot' in sealed, 'no ostree root to describe: composefs-backend roots are judged by their boot entries');
  const cfsArgs = vm(sealed.backend === 'composefs');
  t.ok(cfsArgs.includes('--composefs-backend'), 'passed by the harness: with --source-imgref bootc does not look for the UKI itself');
  t.notOk(cfsArgs.includes('--root-ssh-authorized-keys'), 'ignored by the composefs backend, so not passed');

  const debian = bootcRecordOf('composefs', { efiLinux: [], prepareRoot: [] });
  t.match(debian, { backend: 'composefs', backendWhy: /asked/ });
  t.throws(() => bootcInstallArgs({ imageRef: 'x', targetDevice: '/dev/vda', filesystem: 'xfs', kargs: [], composefsBackend: true, viaLoopback: false, genericImage: true }), /xfs/, "the forced backend still meets bootc's own refusals");
  t.throws(() => bootcRecordOf('auto', { efiLinux: [], prepareRoot: [{ path: '/etc/ostree/prepare-root.conf', text: '[composefs]\nenabled = sure\n' }] }), { name: 'UsageError', message: /^image \/etc\/ostree\/prepare-root\.conf/ });
});
