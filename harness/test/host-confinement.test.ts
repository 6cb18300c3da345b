// AppArmor and SELinux as `doctor` reads them, on the real policy texts (harness/test/host-texts/):
//   usr.bin.swtpm.ubuntu-2404    stefanberger/swtpm debian/usr.bin.swtpm at 3d620d0d (2024-06-11, "Sync
//                                AppArmor profile with what is used by Ubuntu"; in v0.9.0): /tmp/**,
//                                /var/lib/swtpm/**, the owner's home; not /var/tmp.
//   usr.bin.swtpm.upstream-0.10  the same file at 93e7c5c4 (v0.10.0-321): adds abstractions/user-tmp
//                                (cc52b200, swtpm PR #944, "Add rule to allow usage of /var/tmp").
//   abstractions.user-tmp        apparmor/apparmor profiles/apparmor.d/abstractions/user-tmp at aecf7801.
//   swtpm_svirt.te               stefanberger/swtpm src/selinux/swtpm_svirt.te at 93e7c5c4.
// The local rule is the one harness/scripts/setup-host.sh writes, read from the script itself.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessOf, expandIncludes, globToRegExp, loadedProfiles, parseProfiles, profileFor, variablesOf } from '../src/host/apparmor.js';
import { apparmorFinding, pathsUsed, SWTPM_SELINUX_ENTRY } from '../src/host/doctor.js';
import { domainsEntering, selinuxMode, typeOfContext } from '../src/host/selinux.js';
import { denialClause, denialsIn } from '../src/vm/denials.js';
import { REPO } from './helpers/cli.js';

const text = (name: string) => readFileSync(join(REPO, 'harness/test/host-texts', name), 'utf8');
const WORK = '/var/tmp/bootc-harness';
const used = pathsUsed(WORK, '/var/cache/bootc-harness').swtpm;

/** The local rule setup-host.sh installs: the lines between its markers in the script. */
function setupLocalRule(work = WORK): string {
  const script = readFileSync(join(REPO, 'harness/scripts/setup-host.sh'), 'utf8');
  const m = /swtpm_local_rule\(\) \{[^]*?cat <<RULE\n([^]*?)\nRULE/.exec(script);
  if (!m) throw new Error('setup-host.sh has no swtpm_local_rule');
  return m[1]!.replace(/\$\{?work_root\}?/g, work);
}

function swtpmProfile(profileText: string, local?: string) {
  const read = (name: string) => (name === 'local/usr.bin.swtpm' ? local : name === 'abstractions/user-tmp' ? text('abstractions.user-tmp') : undefined);
  const all = expandIncludes(profileText, read);
  const profiles = parseProfiles(all);
  return { profile: profileFor(profiles, '/usr/bin/swtpm', variablesOf(all)), vars: variablesOf(all) };
}

t.test("Ubuntu's profile confines /usr/bin/swtpm as swtpm and denies /var/tmp, where the work root is", async (t) => {
  const { profile, vars } = swtpmProfile(text('usr.bin.swtpm.ubuntu-2404'));
  t.ok(profile, 'a profile attaches to /usr/bin/swtpm');
  t.equal(profile!.name, 'swtpm');
  for (const p of used) t.notOk(accessOf(profile!, p.path, p.perms, vars).allowed, `${p.perms} ${p.path} is denied`);
  t.equal(accessOf(profile!, `${WORK}/r/tpm.sock`, 'w', vars).missing, 'w', 'creating the socket is what fails (mknod needs w)');
  t.ok(accessOf(profile!, '/tmp/bh/tpm.sock', 'rwk', vars).allowed, '/tmp/** rwk is allowed');
  t.ok(accessOf(profile!, '/var/lib/swtpm/x/tpm2-00.permall', 'rwk', vars).allowed, 'owner /var/lib/swtpm/** rwk');
  t.ok(accessOf(profile!, '/root/bh/tpm.sock', 'rw', vars).allowed, "owner @{HOME}/** (root's home, from apparmor's tunables/home)");
  t.ok(accessOf(profile!, '/home/runner/bh/tpm.sock', 'rw', vars).allowed, "and a user's");
  t.notOk(accessOf(profile!, '/home/tpm.sock', 'w', vars).allowed, '@{HOME} is a home, not /home itself');
  const f = apparmorFinding('swtpm', '/usr/bin/swtpm', profile, 'enforce', vars, used);
  t.equal(f.status, 'fail');
  t.match(f.found, /profile swtpm \(enforce\) denies rwk on \/var\/tmp\/bootc-harness\/.*\/tpm\/tpm2-00\.permall/);
  t.match(f.fix ?? '', /just setup .*\/etc\/apparmor\.d\/local\/usr\.bin\.swtpm/);
  t.equal(apparmorFinding('swtpm', '/usr/bin/swtpm', profile, 'complain', vars, used).status, 'warn', 'complain mode only logs');
  t.equal(apparmorFinding('swtpm', '/usr/bin/swtpm', profile, undefined, vars, used).status, 'ok', 'a profile on disk but not loaded confines nothing');
});

t.test("setup's local rule makes Ubuntu's profile allow the work root, and nothing beyond it", async (t) => {
  const { profile, vars } = swtpmProfile(text('usr.bin.swtpm.ubuntu-2404'), setupLocalRule());
  for (const p of used) t.ok(accessOf(profile!, p.path, p.perms, vars).allowed, `${p.perms} ${p.path} is allowed`);
  t.ok(accessOf(profile!, `${WORK}/.lanes/2/r/tpm.sock`, 'rw', vars).allowed, "the test lanes' roots too");
  t.notOk(accessOf(profile!, '/var/tmp/other/tpm.sock', 'w', vars).allowed, 'not the rest of /var/tmp');
  t.equal(apparmorFinding('swtpm', '/usr/bin/swtpm', profile, 'enforce', vars, used).status, 'ok');
  const custom = swtpmProfile(text('usr.bin.swtpm.ubuntu-2404'), setupLocalRule('/srv/bh-work'));
  t.ok(accessOf(custom.profile!, '/srv/bh-work/r/tpm/tpm2-00.permall', 'rwk', custom.vars).allowed, 'a BOOTC_HARNESS_WORK root gets its own rule');
});

t.test('swtpm 0.10 (abstractions/user-tmp) already allows its owner /var/tmp', async (t) => {
  const { profile, vars } = swtpmProfile(text('usr.bin.swtpm.upstream-0.10'));
  for (const p of used) t.ok(accessOf(profile!, p.path, p.perms, vars).allowed, `${p.perms} ${p.path}`);
  t.ok(profile!.rules.some((r) => r.glob === '/var/tmp/**' && r.owner), 'by an owner rule from the abstraction');
  const without = parseProfiles(expandIncludes(text('usr.bin.swtpm.upstream-0.10'), () => undefined))[0]!;
  t.notOk(accessOf(without, used[0]!.path, 'rwk', vars).allowed, 'and only through it: the include is read, not assumed');
});

t.test('a deny rule takes back what an allow rule grants', async (t) => {
  const local = `${setupLocalRule()}\n  deny /var/tmp/bootc-harness/** w,\n`;
  const { profile, vars } = swtpmProfile(text('usr.bin.swtpm.ubuntu-2404'), local);
  const a = accessOf(profile!, used[1]!.path, 'rw', vars);
  t.notOk(a.allowed);
  t.equal(a.missing, 'w');
});

t.test('AppArmor globs', async (t) => {
  t.ok(globToRegExp('/tmp/**').test('/tmp/a/b/c'), '** crosses directories');
  t.notOk(globToRegExp('/run/libvirt/qemu/swtpm/*.sock').test('/run/libvirt/qemu/swtpm/a/b.sock'), '* does not');
  t.ok(globToRegExp('/run/user/[0-9]*/x').test('/run/user/1000/x'), 'character classes');
  t.ok(globToRegExp('/a/{b,c}/d').test('/a/c/d'), 'alternatives');
  t.notOk(globToRegExp('/a/{b,c}/d').test('/a/e/d'));
});

t.test("the kernel's list of loaded profiles, and its denials", async (t) => {
  // The format of /sys/kernel/security/apparmor/profiles: "NAME (MODE)" a line.
  const loaded = loadedProfiles('swtpm (enforce)\n/usr/bin/man (enforce)\nbuildah (unconfined)\nlibvirt-1234 (complain)\n');
  t.equal(loaded.get('swtpm'), 'enforce');
  t.equal(loaded.get('buildah'), 'unconfined');
  t.equal(loaded.get('libvirt-1234'), 'complain');
  // A denial as the kernel logs it (swtpm PR #944's report).
  const log =
    '[ 12.0] audit: type=1400 audit(1730829888.863:260): apparmor="DENIED" operation="mknod" class="file" profile="swtpm" name="/var/tmp/qemu_3r9txw7z/swtpm-socket" pid=3925 comm="swtpm" requested_mask="c" denied_mask="c" fsuid=1000 ouid=1000\n' +
    '[ 13.0] audit: type=1400 audit(1730829889.000:261): apparmor="DENIED" operation="open" profile="man" name="/x" comm="man"\n' +
    '[ 14.0] something else about swtpm\n';
  const d = denialsIn(log, 'swtpm');
  t.equal(d.length, 1, 'only swtpm\'s denials');
  t.match(d[0], /name="\/var\/tmp\/qemu_3r9txw7z\/swtpm-socket"/);
});

t.test("SELinux: the mode, and swtpm's policy moves only libvirt's guests into swtpm_t", async (t) => {
  t.equal(selinuxMode(undefined), 'disabled', 'no selinuxfs');
  t.equal(selinuxMode('1\n'), 'enforcing');
  t.equal(selinuxMode('0'), 'permissive');
  const entering = domainsEntering(text('swtpm_svirt.te'), 'swtpm', 'swtpm_exec_t', 'swtpm_t');
  t.same(entering, ['svirt_t', 'svirt_tcg_t'], 'from swtpm_svirt.te');
  t.same(entering, [...SWTPM_SELINUX_ENTRY].sort(), 'what doctor says is what the policy text says');
  t.same(domainsEntering(text('swtpm.if'), 'swtpm', 'swtpm_exec_t', 'swtpm_t'), [], "the interface file's own domtrans_pattern($1, ...) names no domain");
  t.equal(typeOfContext('unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\0'), 'unconfined_t');
});

t.test('a failure gets the denial as the kernel logged it, after its own message', async (t) => {
  t.equal(denialClause([]), '', 'no denial, nothing added');
  const line = '[ 12.0] audit: type=1400 audit(1730829888.863:260): apparmor="DENIED" operation="mknod" class="file" profile="swtpm" name="/var/tmp/bootc-harness/r/tpm.sock" pid=3925 comm="swtpm" requested_mask="c" denied_mask="c" fsuid=0 ouid=0';
  t.equal(denialClause([line]), '; the kernel denied it: apparmor="DENIED" operation="mknod" class="file" profile="swtpm" name="/var/tmp/bootc-harness/r/tpm.sock" pid=3925 comm="swtpm" requested_mask="c" denied_mask="c" fsuid=0 ouid=0');
});
