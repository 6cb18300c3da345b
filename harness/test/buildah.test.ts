// Image labels: containers.bootc=1 always.
import t from 'tap';
import { labelArgs, mountFlagsOf } from '../src/image/buildah.js';

t.test('labelArgs always carries containers.bootc=1', async (t) => {
  t.same(labelArgs({}), ['--label', 'containers.bootc=1']);
  t.same(labelArgs({ 'org.opencontainers.image.title': 'snow', 'com.example.build': '42' }), [
    '--label',
    'org.opencontainers.image.title=snow',
    '--label',
    'com.example.build=42',
    '--label',
    'containers.bootc=1',
  ]);
  t.same(labelArgs({ note: 'two words' }).slice(0, 2), ['--label', 'note=two words'], 'a value with a space stays one argument');
  t.same(labelArgs({ 'containers.bootc': '0' }), ['--label', 'containers.bootc=1'], 'a caller cannot switch the bootc label off');
});

t.test('mountFlagsOf reads the per-mount flags of the last mount at a path, escapes undone', async (t) => {
  const info = [
    '36 25 0:32 / /var/lib/x/merged rw,relatime - overlay overlay rw,lowerdir=/a',
    '37 25 0:33 / /var/lib/x/merged rw,nosuid,nodev,relatime - overlay overlay rw,lowerdir=/a',
    '38 25 0:34 / /mnt/with\\040space rw,nodev - tmpfs tmpfs rw',
  ].join('\n');
  t.same(mountFlagsOf(info, '/var/lib/x/merged'), ['rw', 'nosuid', 'nodev', 'relatime'], 'the remount (last line) counts');
  t.same(mountFlagsOf(info, '/mnt/with space'), ['rw', 'nodev']);
  t.equal(mountFlagsOf(info, '/var/lib/x'), undefined, 'a prefix is not the mount');
});
