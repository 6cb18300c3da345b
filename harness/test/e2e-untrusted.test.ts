// The image under test is untrusted, for real: a crafted copy of the default fixture whose
// links point at host paths (/root at a host directory with its own authorized_keys, the
// kernel at a decoy the host also has) is installed and booted; every link is followed
// inside the image, the run passes, and the host is byte-for-byte as it was.
//
// Boots: one. Another image than every other test's (the crafted copy), so its own boot.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLeftovers } from '../src/run/leftovers.js';
import { cli, summaryOf, VM_TESTS } from './helpers/cli.js';

/**
 * A copy of the fixture's rootfs with links an attacker would aim at the host: /root is an
 * absolute link to a host directory holding its own .ssh/authorized_keys, and the kernel is
 * a link to a path where the host has a decoy (the image has its real kernel there).
 */
function craftHostLinks(fixtureRootfs: string) {
  const base = mkdtempSync('/var/tmp/bh-crafted-');
  const rootfs = join(base, 'rootfs');
  execFileSync('cp', ['-a', fixtureRootfs, rootfs]);
  // /var/tmp, not /tmp: the guest mounts a tmpfs over /tmp, which would hide root's home.
  const victim = mkdtempSync('/var/tmp/bh-victim-');
  mkdirSync(join(victim, '.ssh'), { mode: 0o755 });
  writeFileSync(join(victim, '.ssh/authorized_keys'), 'ssh-ed25519 AAAA host-own-key\n', { mode: 0o644 });
  writeFileSync(join(victim, 'vmlinuz'), 'a decoy: not the image\'s kernel');
  rmSync(join(rootfs, 'root'), { recursive: true, force: true });
  symlinkSync(victim, join(rootfs, 'root'));
  const kernel = readdirSync(join(rootfs, 'boot')).find((f) => f.startsWith('vmlinuz-'))!;
  mkdirSync(join(rootfs, victim), { recursive: true });
  renameSync(join(rootfs, 'boot', kernel), join(rootfs, victim, 'vmlinuz'));
  symlinkSync(join(victim, 'vmlinuz'), join(rootfs, 'boot', kernel));
  const hostState = () => {
    const st = (p: string) => `${statSync(p).mode.toString(8)} ${statSync(p).isFile() ? readFileSync(p, 'hex') : 'dir'}`;
    return Object.fromEntries(['', '.ssh', '.ssh/authorized_keys', 'vmlinuz'].map((p) => [p, st(join(victim, p))]).concat([['entries', readdirSync(victim).sort().join(',')], ['ssh entries', readdirSync(join(victim, '.ssh')).join(',')]]));
  };
  return {
    rootfs,
    hostState,
    remove: () => {
      rmSync(base, { recursive: true, force: true });
      rmSync(victim, { recursive: true, force: true });
    },
  };
}

t.test('a rootfs whose links point at the host installs and boots from its own files; the host is untouched', { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const built = await cli(['fixtures', 'build', 'trixie']);
  t.equal(built.code, 0, built.stderr);
  const crafted = craftHostLinks(built.stdout.trim().split(' ')[0]!);
  t.teardown(crafted.remove);
  const before = crafted.hostState();
  const r = await cli(['test-install', crafted.rootfs, '--tier', '0,1']);
  t.equal(r.code, 0, `exit 0: the image's own kernel booted and root's key went into the image's home\n${r.stderr.slice(-3000)}`);
  t.same(crafted.hostState(), before, 'the host directory /root pointed at, and the decoy kernel, are byte-for-byte as they were');
  const s = summaryOf(r.stdout);
  t.equal(s.verdict, 'passed');
  t.equal(s.profile, 'generic', 'nothing names a profile for a directory called rootfs');
  t.same(await findLeftovers(), [], 'nothing left behind');
});

// No boot: the defect shows while the image stage probes the image (about 25 s: packaging a
// tiny tree, then sqlite3's 20 s deadline).
t.test("an rpm database whose Packages view never ends stops the run in the image stage: one line naming sqlite3 and the file, exit 2, no VM", { skip: !VM_TESTS && 'BOOTC_HARNESS_UNIT_ONLY=1' }, async (t) => {
  const base = mkdtempSync('/var/tmp/bh-crafted-rpmdb-');
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const rootfs = join(base, 'rootfs');
  // Just what makes it an image with bootc and an rpm database: a bootc binary (never run), os-release, a kernel file.
  for (const d of ['usr/bin', 'usr/lib/sysimage/rpm', 'usr/lib/modules/6.12.0-crafted', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  writeFileSync(join(rootfs, 'usr/bin/bootc'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(rootfs, 'usr/lib/os-release'), 'ID=fedora\nVERSION_ID=43\nNAME=Crafted\n');
  symlinkSync('../usr/lib/os-release', join(rootfs, 'etc/os-release'));
  writeFileSync(join(rootfs, 'usr/lib/modules/6.12.0-crafted/vmlinuz'), 'never booted');
  execFileSync('sqlite3', [join(rootfs, 'usr/lib/sysimage/rpm/rpmdb.sqlite'),
    "CREATE TABLE Name (key TEXT, hnum INTEGER, idx INTEGER); INSERT INTO Name VALUES ('bootc', 1, 0);" +
    'CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, NULL AS blob FROM c WHERE x < 0;']);
  const r = await cli(['test-install', rootfs, '--tier', '0']);
  t.equal(r.code, 2, 'bad input');
  t.match(r.stderr.trim().split('\n').at(-1), /^bootc-harness: sqlite3 on \/usr\/lib\/sysimage\/rpm\/rpmdb\.sqlite: timed out after 20000 ms: a hostile or broken input$/, 'one line naming sqlite3 and the file');
  t.notMatch(r.stderr, /vm: |session: /, 'no VM was started');
  t.same(await findLeftovers(), [], 'nothing left behind (no sqlite3, no container, no mount)');
});
