// The profile follows the source: its label, then its os-release IMAGE_ID, then its name,
// else the generic profile; never another image's expectations.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseProfile, GENERIC_PROFILE, osReleaseImageId, PROFILE_LABEL, rootfsImageId, sourceName } from '../src/run/choose-profile.js';
import { parseSource } from '../src/image/source.js';
import { listProfiles, loadProfile } from '../src/profile/profile.js';

const KNOWN = ['snow', 'custom-coreos', 'trixie', 'generic'];

t.test('a source goes by its name', async (t) => {
  t.equal(sourceName({ kind: 'dir', path: '/home/me/snosi/output/snow' }), 'snow');
  t.equal(sourceName({ kind: 'registry', ref: 'ghcr.io/frostyard/snow:latest' }), 'snow');
  t.equal(sourceName({ kind: 'registry', ref: `ghcr.io/frostyard/snow@sha256:${'a'.repeat(64)}` }), 'snow');
  t.equal(sourceName({ kind: 'containers-storage', ref: 'localhost/custom-coreos:stable' }), 'custom-coreos');
  t.equal(sourceName({ kind: 'oci-archive', path: '/out/snow.oci.tar' }), 'snow');
});

t.test('the label wins, then IMAGE_ID, then the name; each reason says which', async (t) => {
  const snowDir = { kind: 'dir', path: '/out/snow' } as const;
  t.same(chooseProfile(snowDir, { labels: { [PROFILE_LABEL]: 'custom-coreos' }, imageId: 'trixie' }, KNOWN), { name: 'custom-coreos', reason: `the image's label ${PROFILE_LABEL}=custom-coreos` });
  t.same(chooseProfile(snowDir, { imageId: 'trixie' }, KNOWN), { name: 'trixie', reason: "the image's os-release IMAGE_ID=trixie" });
  t.same(chooseProfile(snowDir, {}, KNOWN), { name: 'snow', reason: 'the source\'s name "snow"' });
});

t.test('nothing names a profile: the generic one, never the default fixture\'s', async (t) => {
  const c = chooseProfile({ kind: 'dir', path: '/out/whatever' }, { imageId: 'mystery' }, KNOWN);
  t.equal(c.name, GENERIC_PROFILE);
  t.match(c.reason, /IMAGE_ID=mystery names no profile; no profile is named "whatever"/);
  const generic = await loadProfile('generic');
  t.same([generic.expect.suid, generic.expect.services, generic.expect.enabledUnits, generic.expect.zfs, generic.expect.luks, generic.expect.composefs], [[], [], [], false, null, null], 'expects no image\'s specifics');
  t.equal(generic.kernel.tier, undefined, 'and no kernel tier');
  t.ok((await listProfiles()).includes('generic'));
});

t.test('IMAGE_ID is read from os-release inside the rootfs, through its links', async (t) => {
  t.equal(osReleaseImageId('ID=debian\nIMAGE_ID="snow"\nIMAGE_VERSION=43\n'), 'snow');
  t.equal(osReleaseImageId("IMAGE_ID='snowfield'\n"), 'snowfield');
  t.equal(osReleaseImageId('ID=debian\n'), undefined);
  const root = mkdtempSync(join(tmpdir(), 'bh-osrel-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/os-release'), 'ID=debian\nIMAGE_ID=snow\n');
  symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
  t.equal(await rootfsImageId(root), 'snow');
  t.equal(parseSource(root).kind, 'dir');
});
