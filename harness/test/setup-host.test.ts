// setup-host.sh picks the packages whose names differ between releases by what apt offers:
// its pick_packages runs here against a fake apt-cache that answers `policy` the way apt does
// on Debian 12, Debian 13 and Ubuntu 24.04 (GitHub's hosted runners), and on a host whose
// package lists are missing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './helpers/cli.js';
import { accessOf, expandIncludes, parseProfiles, profileFor, variablesOf } from '../src/host/apparmor.js';
import { pathsUsed } from '../src/host/doctor.js';

const SCRIPT = join(REPO, 'harness/scripts/setup-host.sh');
const dir = mkdtempSync(join(tmpdir(), 'bh-setup-host-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// `apt-cache policy NAME...`: a block per name apt knows (Candidate "(none)" for a virtual or
// unavailable one), nothing for a name it does not. Any other use is a failure, and so is
// apt-get: sourcing the script must not install anything.
writeFileSync(
  join(dir, 'apt-cache'),
  `#!/bin/sh
[ "$1" = policy ] || { echo "fake apt-cache: $*" >&2; exit 64; }
shift
for n in "$@"; do
  c=$(awk -v n="$n" '$1 == n { print $2 }' "$FAKE_APT")
  [ -n "$c" ] && printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n  Version table:\\n' "$n" "$c"
done
exit 0
`,
);
writeFileSync(join(dir, 'apt-get'), '#!/bin/sh\necho "apt-get ran: $*" >&2\nexit 1\n');
for (const f of ['apt-cache', 'apt-get']) chmodSync(join(dir, f), 0o755);

/** pick_packages over the script's own groups (or those given), with apt answering from `known` (name -> candidate). */
function pick(known: Record<string, string>, groups?: string[]) {
  const table = join(dir, `apt-${Object.keys(known).length}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(table, Object.entries(known).map(([n, c]) => `${n} ${c}\n`).join(''));
  const call = groups ? 'pick_packages "$@"' : 'pick_packages "${PICK_GROUPS[@]}"';
  // $0 is not the script: sourced, it only defines (its guard compares BASH_SOURCE with $0).
  const r = spawnSync('bash', ['-c', `script=$1; shift; . "$script"; ${call}`, 'setup-host-test', SCRIPT, ...(groups ?? [])], {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_APT: table },
    encoding: 'utf8',
  });
  return { code: r.status, picked: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

const NONE = '(none)';
const T64 = { 'libtss2-esys-3.0.2-0t64': '4.1.3-1.2', 'libtss2-rc0t64': '4.1.3-1.2', 'libtss2-mu-4.0.1-0t64': '4.1.3-1.2', 'libtss2-tcti-swtpm0t64': '4.1.3-1.2' };

t.test('Ubuntu 24.04: t64 libraries, cryptenroll inside systemd, no chromium deb', async (t) => {
  // noble: no systemd-cryptsetup package at all; chromium only as chromium-browser (a snap stand-in).
  const r = pick({ ...T64, 'libtss2-esys-3.0.2-0': NONE, systemd: '255.4-1ubuntu8', 'chromium-browser': '2:1snap1-0ubuntu2', virtiofsd: '1.10.1-2' });
  t.equal(r.code, 0, r.stderr);
  t.same(r.picked, ['libtss2-esys-3.0.2-0t64', 'libtss2-rc0t64', 'libtss2-mu-4.0.1-0t64', 'libtss2-tcti-swtpm0t64', 'systemd', 'virtiofsd']);
});

t.test('Debian 13: t64 libraries, systemd-cryptsetup split out, chromium, virtiofsd', async (t) => {
  const r = pick({ ...T64, 'systemd-cryptsetup': '257.9-1~deb13u1', systemd: '257.9-1~deb13u1', chromium: '141.0-1~deb13u1', virtiofsd: '1.13.1-1' });
  t.equal(r.code, 0, r.stderr);
  t.same(r.picked, ['libtss2-esys-3.0.2-0t64', 'libtss2-rc0t64', 'libtss2-mu-4.0.1-0t64', 'libtss2-tcti-swtpm0t64', 'systemd-cryptsetup', 'chromium', 'virtiofsd']);
});

t.test('Debian 12: the pre-t64 names, cryptenroll in systemd (systemd-cryptsetup known, no candidate)', async (t) => {
  const old = { 'libtss2-esys-3.0.2-0': '3.2.1-3', 'libtss2-rc0': '3.2.1-3', 'libtss2-mu0': '3.2.1-3', 'libtss2-tcti-swtpm0': '3.2.1-3' };
  const r = pick({ ...old, 'systemd-cryptsetup': NONE, systemd: '252.38-1~deb12u1', chromium: '138.0-1~deb12u1' });
  t.equal(r.code, 0, r.stderr);
  t.same(r.picked, ['libtss2-esys-3.0.2-0', 'libtss2-rc0', 'libtss2-mu0', 'libtss2-tcti-swtpm0', 'systemd', 'chromium']);
});

t.test('no package lists: every required group is named, optional ones pick nothing, nothing installed', async (t) => {
  const r = pick({});
  t.equal(r.code, 1);
  t.same(r.picked, []);
  t.match(r.stderr, /none of libtss2-esys-3\.0\.2-0t64, libtss2-esys-3\.0\.2-0\n/);
  t.match(r.stderr, /none of systemd-cryptsetup, systemd\n/);
  t.notMatch(r.stderr, /chromium|virtiofsd|composefs|apt-get ran/);
});

t.test('sourced, the script only defines: no root check, no apt-get, nothing printed', async (t) => {
  t.same(pick({}, []), { code: 0, picked: [], stderr: '' });
});

t.test('the first name with a candidate wins, in the group\'s order', async (t) => {
  t.same(pick({ a: '1', b: '1' }, ['a|b', 'b|a', 'c|b', 'c|']).picked, ['a', 'b', 'b']);
  t.same(pick({ a: NONE }, ['a|']), { code: 0, picked: [], stderr: '' }, 'known without a candidate is not installable');
});

// Packages unpacked from another suite (virtiofsd from trixie, mkcomposefs from sid) come with what
// apt resolves for them there, not with a list written in the script.
function sourced(body: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['-c', `script=$1; shift; . "$script"; ${body}`, 'setup-host-test', SCRIPT], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('the script names no dependency of an unpacked tool: each is unpacked by its one package name', async (t) => {
  const script = readFileSync(SCRIPT, 'utf8');
  const calls = [...script.matchAll(/^\s*unpack_tool (.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
  t.same(calls.map((c) => c[0]), ['virtiofsd', 'mkcomposefs']);
  for (const c of calls) t.equal(c.length, 4, `unpack_tool ${c.join(' ')}: NAME SUITE BINARY PACKAGE, no library list`);
  t.notMatch(script, /libssl3t64|libcomposefs1|libseccomp2/, 'no library named');
});

t.test("a throwaway apt: its own sources, lists and cache, an empty dpkg status, the host's pins and locks untouched", async (t) => {
  const d = mkdtempSync(join(dir, 'apt-'));
  const r = sourced(`throwaway_apt "${d}" "${d}/sources.list"`);
  t.equal(r.code, 0, r.stderr);
  const opts = r.stdout.trim().split('\n');
  const o = (k: string) => opts[opts.indexOf(opts.find((x) => x.startsWith(`${k}=`))!)]?.slice(k.length + 1);
  t.equal(o('Dir::Etc::SourceList'), `${d}/sources.list`);
  t.equal(o('Dir::Etc::SourceParts'), '/dev/null', "the host's sources are not read");
  t.equal(o('Dir::Etc::PreferencesParts'), '/dev/null', "nor its pins (bookworm-backports' would not apply to sid)");
  t.equal(o('Dir::State::status'), `${d}/status`);
  t.equal(readFileSync(`${d}/status`, 'utf8'), '', 'empty: apt resolves the whole closure, as for an empty root');
  t.equal(o('Debug::NoLocking'), '1', "the host's dpkg lock is not taken");
});

t.test("resolve_closure is apt's own resolution (here, for real, against this host's package lists)", { skip: !existsSync('/var/lib/apt/lists') || readdirSync('/var/lib/apt/lists').filter((f) => f.includes('_Packages')).length === 0 ? 'no apt lists here' : false }, async (t) => {
  // The throwaway apt with the host's sources and lists (read only) and an empty status: mtools'
  // closure must hold the C library and what it needs, which no line of the script names.
  const d = mkdtempSync(join(dir, 'apt-host-'));
  const r = sourced(
    `mapfile -t A < <(throwaway_apt "${d}" /etc/apt/sources.list); A+=(-o Dir::Etc::SourceParts=/etc/apt/sources.list.d -o Dir::State::Lists=/var/lib/apt/lists); resolve_closure "\${A[@]}" -- mtools`,
  );
  t.equal(r.code, 0, r.stderr);
  const names = r.stdout.trim().split('\n');
  t.ok(names.includes('mtools'), names.join(' '));
  t.ok(names.includes('libc6'), 'its C library, resolved');
  t.ok(names.some((n) => /^gcc-\d+-base$/.test(n)), "and libc6's own dependencies, transitively");
  t.same(readdirSync(join(d, 'lists')), ['partial'], 'nothing downloaded into the throwaway lists');
});

t.test('an unknown argument is refused before anything is done', async (t) => {
  const r = spawnSync('bash', [SCRIPT, '--frobnicate'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /^setup: unknown argument --frobnicate \(setup-host\.sh \[--no-mkcomposefs\]\)$/m);
});

t.test("the swtpm rule: written where Ubuntu's profile is, next to the site's own lines, once; and doctor's reading of it allows the work root", async (t) => {
  const aa = mkdtempSync(join(dir, 'apparmor.d-'));
  const install = (env: Record<string, string> = {}) => sourced('install_swtpm_rule', { AA_ETC: aa, ...env });
  t.same(install(), { code: 0, stdout: '', stderr: '' }, 'no swtpm profile on disk (Debian): nothing done');
  // Ubuntu's profile (stefanberger/swtpm debian/usr.bin.swtpm at 3d620d0d) and a site line of its own.
  writeFileSync(join(aa, 'usr.bin.swtpm'), readFileSync(join(REPO, 'harness/test/host-texts/usr.bin.swtpm.ubuntu-2404'), 'utf8'));
  mkdirSync(join(aa, 'local'));
  writeFileSync(join(aa, 'local/usr.bin.swtpm'), '  /srv/site/** r,\n');
  const first = install();
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /swtpm may use the work root/);
  const local = readFileSync(join(aa, 'local/usr.bin.swtpm'), 'utf8');
  t.equal(local, '  /srv/site/** r,\n  owner /var/tmp/bootc-harness/** rwk,  # bootc-harness: TPM state and socket of its runs (setup-host.sh)\n', "the site's line kept, ours added");
  t.equal(install().stdout, '', 'a second run changes nothing');
  install({ BOOTC_HARNESS_WORK: '/srv/bh-work/' });
  const both = readFileSync(join(aa, 'local/usr.bin.swtpm'), 'utf8');
  t.equal(both.split('\n').filter((l) => l.includes('# bootc-harness:')).length, 2, 'BOOTC_HARNESS_WORK gets a rule of its own');
  t.match(both, /owner \/srv\/bh-work\/\*\* rwk,/);
  t.match(both, /^ {2}\/srv\/site\/\*\* r,$/m, 'still with the site line');
  // What doctor reads: the profile with this local include, then the paths a run uses.
  const read = (name: string) => (name === 'local/usr.bin.swtpm' ? both : undefined);
  const all = expandIncludes(readFileSync(join(aa, 'usr.bin.swtpm'), 'utf8'), read);
  const vars = variablesOf(all);
  const profile = profileFor(parseProfiles(all), '/usr/bin/swtpm', vars)!;
  for (const p of pathsUsed('/var/tmp/bootc-harness', '/var/cache/bootc-harness').swtpm) t.ok(accessOf(profile, p.path, p.perms, vars).allowed, `${p.perms} ${p.path}`);
  t.ok(accessOf(profile, '/srv/bh-work/r/tpm.sock', 'rw', vars).allowed, 'and the other root');
});
