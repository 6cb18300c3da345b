// An image with bootc and no --placement: its bootc is planned for the installer VM, and the
// run's summary.json says `placement: vm` (issue 23). The crafted image's /usr/bin/bootc would
// leave a canary on the host if it ever ran there; it has a kernel but no initramfs, so the run
// ends at the installer VM's own pre-check (exit 2) before any VM starts or bootc runs.
// Cost: packaging an 8 KiB tree and the pre-boot stages, ~3 s; no VM.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';
import { removeImage } from '../src/image/buildah.js';
import { run } from '../src/util/exec.js';

const root = process.getuid?.() === 0;
t.test('bootc in the image, no --placement: planned for the installer VM, recorded, never run on the host', { skip: root ? false : 'needs root (buildah)' }, async (t) => {
  const base = mkdtempSync('/var/tmp/bh-e2e-placement-');
  const canary = join(base, 'CANARY-bootc-ran-on-host');
  const tree = join(base, 'bootc-placement');
  mkdirSync(join(tree, 'usr/bin'), { recursive: true });
  mkdirSync(join(tree, 'usr/lib/modules/6.1.0-test'), { recursive: true });
  mkdirSync(join(tree, 'etc'));
  writeFileSync(join(tree, 'usr/bin/bootc'), `#!/bin/sh\ntouch ${canary}\n`);
  chmodSync(join(tree, 'usr/bin/bootc'), 0o755);
  writeFileSync(join(tree, 'usr/lib/modules/6.1.0-test/vmlinuz'), 'not a kernel');
  writeFileSync(join(tree, 'etc/os-release'), 'ID=crafted\n');
  const report = join(base, 'report');
  t.teardown(async () => {
    // A directory's image is kept per directory; this one's directory is gone with the test.
    const names = (await run(['buildah', 'images', '--noheading', '--format', '{{.Name}}:{{.Tag}}'], { stage: 'image' })).stdout.split('\n');
    for (const ref of names.filter((n) => n.startsWith('localhost/bootc-harness/dir-bootc-placement-'))) await removeImage(ref).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });

  const r = await cli(['test-install', tree, '--no-pre', '--tier', '0', '--report', report], { BOOTC_HARNESS_WORK: join(base, 'work') });
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /no initramfs: the installer VM boots it/, 'the installer VM was the plan');
  t.match(r.stderr, /the image's bootc runs in an installer VM booted from it/);
  t.notMatch(r.stderr, /trusts the image/, 'no host placement, so no trust warning');
  const runDir = readdirSync(report).find((n) => n !== 'latest')!;
  const summary = JSON.parse(readFileSync(join(report, runDir, 'summary.json'), 'utf8')) as { installer?: string; placement?: string };
  t.equal(summary.installer, 'bootc');
  t.equal(summary.placement, 'vm', 'summary.json: placement vm');
  t.notOk(existsSync(join(report, runDir, 'installer-console.log')), 'no installer VM started');
  t.notOk(existsSync(canary), "the image's bootc never ran on the host");
});
