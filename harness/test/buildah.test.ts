// Image labels: containers.bootc=1 always.
import t from 'tap';
import { labelArgs } from '../src/image/buildah.js';

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
