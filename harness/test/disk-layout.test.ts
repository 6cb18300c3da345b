import t from 'tap';
import { ESP_MIB, ROOT_X86_64_GUID, blsEntry, kernelCmdline, loaderConf, planDisk, sfdiskScript } from '../src/install/disk-layout.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

t.test('planDisk: image size plus headroom when that is larger than the minimum', async (t) => {
  // 2 GiB image: ceil(2048 * 1.3) = 2663, + 1024 headroom = 3687 MiB.
  const p = planDisk(2 * GiB, 1);
  t.equal(p.espMiB, 256);
  t.equal(p.espMiB, ESP_MIB);
  t.equal(p.rootMiB, 3687);
  t.equal(p.totalMiB, 1 + 256 + 3687 + 1);
});

t.test('planDisk: rounds the image size up to whole MiB', async (t) => {
  // 1 byte over 10 MiB: 10 MiB * 1.3 = 13 MiB exactly, plus a bit -> 14.
  const p = planDisk(10 * MiB + 1, 0);
  t.equal(p.rootMiB, 14 + 1024);
});

t.test('planDisk: the profile minimum wins for small images, and is the whole disk', async (t) => {
  const p = planDisk(1 * GiB, 10);
  t.equal(p.rootMiB, 10 * 1024 - 256 - 2, 'root fills the minimum disk');
  t.equal(p.totalMiB, 10 * 1024, 'total is exactly the minimum size');
  t.ok(p.rootMiB > Math.ceil((GiB * 1.3) / MiB) + 1024, 'more than the image needs');
});

t.test('planDisk: total is always 1 + esp + root + 1 and root always fits the image', async (t) => {
  for (const [bytes, min] of [
    [0, 0],
    [123_456_789, 4],
    [5 * GiB, 8],
    [7 * GiB + 3, 20],
  ] as const) {
    const p = planDisk(bytes, min);
    t.equal(p.totalMiB, 1 + p.espMiB + p.rootMiB + 1, `total for ${bytes}/${min}`);
    t.ok(p.rootMiB * MiB >= bytes * 1.3, `root holds the image with 30% headroom (${bytes})`);
    t.ok(p.totalMiB >= min * 1024, `at least the minimum ${min} GiB`);
    t.ok(Number.isInteger(p.rootMiB) && Number.isInteger(p.totalMiB), 'whole MiB');
  }
});

t.test('sfdiskScript: GPT, a UEFI ESP at 1 MiB, a DPS x86-64 root', async (t) => {
  const s = sfdiskScript({ espMiB: 256, rootMiB: 3687, totalMiB: 3945 });
  t.equal(
    s,
    'label: gpt\n' + 'start=1MiB, size=256MiB, type=uefi, name=esp\n' + 'size=3687MiB, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, name=root\n',
  );
  t.equal(ROOT_X86_64_GUID, '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', 'the Discoverable Partitions root (x86-64) type');
  const lines = s.trimEnd().split('\n');
  t.equal(lines[0], 'label: gpt', 'label first');
  t.equal(lines.length, 3, 'two partitions');
  t.ok(s.endsWith('\n'), 'ends with a newline');
});

t.test('kernelCmdline: root by UUID, serial console last', async (t) => {
  const c = kernelCmdline('0b1c2d3e-aaaa-bbbb-cccc-123456789abc', ['quiet', 'systemd.journald.forward_to_console=1']);
  const words = c.split(' ');
  t.equal(words[0], 'root=UUID=0b1c2d3e-aaaa-bbbb-cccc-123456789abc');
  t.ok(words.includes('rw'));
  t.ok(words.includes('panic=-1'));
  t.ok(words.includes('quiet') && words.includes('systemd.journald.forward_to_console=1'), 'extra args included');
  t.equal(words[words.length - 1], 'console=ttyS0,115200', 'ttyS0 last, so it is /dev/console');
  t.ok(words.indexOf('console=tty0') < words.indexOf('console=ttyS0,115200'));
  t.ok(words.indexOf('quiet') < words.indexOf('console=tty0'), 'extras before the consoles');
  t.equal(c, 'root=UUID=0b1c2d3e-aaaa-bbbb-cccc-123456789abc rw panic=-1 quiet systemd.journald.forward_to_console=1 console=tty0 console=ttyS0,115200');
  t.equal(kernelCmdline('u', []), 'root=UUID=u rw panic=-1 console=tty0 console=ttyS0,115200', 'no extras');
});

t.test('blsEntry: Boot Loader Specification type 1 entry', async (t) => {
  const e = blsEntry('Debian trixie', '6.12.48+deb13-amd64', 'root=UUID=x rw');
  t.equal(
    e,
    [
      'title Debian trixie',
      'version 6.12.48+deb13-amd64',
      'linux /6.12.48+deb13-amd64/linux',
      'initrd /6.12.48+deb13-amd64/initrd',
      'options root=UUID=x rw',
      '',
    ].join('\n'),
  );
});

t.test('loaderConf: no timeout, default entry by id, console mode kept', async (t) => {
  t.equal(loaderConf('bootc-harness-6.12'), 'timeout 0\ndefault bootc-harness-6.12.conf\nconsole-mode keep\n');
});
