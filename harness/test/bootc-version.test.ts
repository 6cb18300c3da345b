// The image's bootc version, read from crafted package databases in a temp dir: what is read,
// what is ignored, and that nothing outside the image root is ever read.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bootcFromDpkgStatus, readBootcVersion, rpmHeaderNameVersion } from '../src/image/bootc-version.js';
import { which } from '../src/util/tools.js';

function tempRoot(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'bh-bootc-version-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

function put(root: string, path: string, data: string | Buffer): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), data);
}

const stanza = (pkg: string, version: string, status = 'install ok installed') =>
  `Package: ${pkg}\nStatus: ${status}\nPriority: optional\nVersion: ${version}\nDescription: x\n more description\n`;

t.test('dpkg status: the installed bootc, upstream version only', async (t) => {
  const status = [stanza('bootc', '1.9.0-1', 'deinstall ok config-files'), stanza('bootc-dev', '9.9.9-1'), stanza('bootc', '1:1.12.1-2')].join('\n');
  t.equal(bootcFromDpkgStatus(status), '1.12.1', 'removed stanza and look-alike names skipped; epoch and revision dropped');
  t.equal(bootcFromDpkgStatus(stanza('bootc', '1.14.0~rc1-1', 'hold ok installed')), '1.14.0~rc1', 'held is installed');
  t.equal(bootcFromDpkgStatus(stanza('bootc', '1.16.3')), '1.16.3', 'a native package has no revision');
  t.equal(bootcFromDpkgStatus(stanza('podman', '5.4.2-1')), undefined);
  t.equal(bootcFromDpkgStatus(''), undefined);
});

t.test('a Debian image: read from var/lib/dpkg/status inside the root', async (t) => {
  const root = tempRoot(t);
  put(root, 'var/lib/dpkg/status', [stanza('libc6', '2.36-9'), stanza('bootc', '1.12.1-1')].join('\n'));
  t.same(await readBootcVersion(root), { version: '1.12.1', from: '/var/lib/dpkg/status' });
});

t.test('a version with terminal escapes is no version: it would reach the log', async (t) => {
  const root = tempRoot(t);
  put(root, 'var/lib/dpkg/status', stanza('bootc', '1.12.1\x1b]0;owned\x07-1'));
  const v = await readBootcVersion(root);
  t.equal(v.version, undefined);
  t.match(v.from, /holds no readable version/);
});

t.test('links in the image resolve inside it: a host file is never read', async (t) => {
  const host = tempRoot(t);
  put(host, 'status', stanza('bootc', '6.6.6-1'));
  const root = tempRoot(t);
  mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
  symlinkSync(join(host, 'status'), join(root, 'var/lib/dpkg/status'));
  const v = await readBootcVersion(root);
  t.equal(v.version, undefined, 'the absolute link means the image root, where nothing is');
  const loop = tempRoot(t);
  mkdirSync(join(loop, 'var/lib'), { recursive: true });
  symlinkSync('/var/lib/dpkg', join(loop, 'var/lib/dpkg'));
  t.equal((await readBootcVersion(loop)).version, undefined, "the image's own link loop is no version, and no crash");
  const up = tempRoot(t);
  put(up, 'real/status', stanza('bootc', '1.10.2-1'));
  mkdirSync(join(up, 'var/lib/dpkg'), { recursive: true });
  symlinkSync('../../../../../../real/status', join(up, 'var/lib/dpkg/status'));
  t.equal((await readBootcVersion(up)).version, '1.10.2', '".." stops at the image root');
});

/** An rpm header blob as rpmdb.sqlite stores it: il, dl, 16-byte entries, data. */
function rpmHeader(entries: [tag: number, type: number, value: string][]): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let off = 0;
  for (const [tag, type, value] of entries) {
    const e = Buffer.alloc(16);
    e.writeInt32BE(tag, 0);
    e.writeUInt32BE(type, 4);
    e.writeInt32BE(off, 8);
    e.writeUInt32BE(1, 12);
    index.push(e);
    const d = Buffer.from(`${value}\0`);
    data.push(d);
    off += d.length;
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(off, 4);
  return Buffer.concat([head, ...index, ...data]);
}

t.test('rpm header blobs: NAME and VERSION strings, bounds checked', async (t) => {
  const h = rpmHeader([[1004, 6, 'Bootable container system'], [1000, 6, 'bootc'], [1001, 6, '1.12.1'], [1002, 6, '1.fc43']]);
  t.same(rpmHeaderNameVersion(h), { name: 'bootc', version: '1.12.1' });
  t.same(rpmHeaderNameVersion(rpmHeader([[1000, 4, 'bootc']])), {}, 'not a string entry');
  t.same(rpmHeaderNameVersion(h.subarray(0, h.length - 10)), {}, 'truncated: data past the end');
  t.same(rpmHeaderNameVersion(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])), {}, 'an index count past the blob');
  const bad = Buffer.from(h);
  bad.writeInt32BE(1 << 30, 8 + 16 + 8);
  t.same(rpmHeaderNameVersion(bad).name, undefined, 'an offset past the data');
});

const sqlite3 = which('sqlite3');

function sqlite(db: string, sql: string): void {
  execFileSync(sqlite3!, [db, sql]);
}

const RPM_SCHEMA =
  'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);' +
  'CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);';

t.test('a Fedora image: the sqlite rpm database, read from a copy', { skip: sqlite3 ? false : 'no sqlite3 on this host to write the fixture' }, async (t) => {
  const root = tempRoot(t);
  const dir = join(root, 'usr/lib/sysimage/rpm');
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'rpmdb.sqlite');
  const blob = (name: string, version: string) => rpmHeader([[1000, 6, name], [1001, 6, version]]).toString('hex');
  sqlite(db, RPM_SCHEMA +
    `INSERT INTO Packages (hnum, blob) VALUES (1, X'${blob('podman', '5.6.1')}'), (2, X'${blob('bootc', '1.12.1')}');` +
    "INSERT INTO Name VALUES ('podman', 1, 0), ('bootc', 2, 0);");
  const before = readdirSync(dir);
  const v = await readBootcVersion(root);
  t.equal(v.version, '1.12.1');
  t.match(v.from, /usr\/lib\/sysimage\/rpm/);
  t.same(readdirSync(dir), before, 'no -wal, -shm or journal left in the image');
  const none = tempRoot(t);
  mkdirSync(join(none, 'var/lib/rpm'), { recursive: true });
  sqlite(join(none, 'var/lib/rpm/rpmdb.sqlite'), RPM_SCHEMA + `INSERT INTO Packages VALUES (1, X'${blob('podman', '5.6.1')}'); INSERT INTO Name VALUES ('podman', 1, 0);`);
  const n = await readBootcVersion(none);
  t.equal(n.version, undefined);
  t.match(n.from, /no bootc package in \/var\/lib\/rpm/, 'says why');
});

t.test('a crafted database cannot make the host write a file', { skip: sqlite3 ? false : 'no sqlite3 on this host' }, async (t) => {
  const root = tempRoot(t);
  const out = join(tempRoot(t), 'written-by-the-image');
  mkdirSync(join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  sqlite(join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'),
    'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);' +
    `CREATE VIEW Name AS SELECT 'bootc' AS key, writefile('${out}', 'x') AS hnum, 0 AS idx;`);
  const v = await readBootcVersion(root);
  t.equal(v.version, undefined);
  t.notOk(existsSync(out), 'the view was never run');
});

t.test('weaker evidence: pacman, a versioned doc dir, the Debian changelog; else unknown, with why', async (t) => {
  const arch = tempRoot(t);
  mkdirSync(join(arch, 'var/lib/pacman/local/bootc-1.16.3-1'), { recursive: true });
  mkdirSync(join(arch, 'var/lib/pacman/local/bootc-git-r12.abc-1'), { recursive: true });
  t.same(await readBootcVersion(arch), { version: '1.16.3', from: '/var/lib/pacman/local/bootc-1.16.3-1' });
  const deb = tempRoot(t);
  put(deb, 'usr/share/doc/bootc/changelog.Debian.gz', gzipSync('bootc (1.12.1-2) unstable; urgency=medium\n\n  * New upstream release.\n'));
  t.same(await readBootcVersion(deb), { version: '1.12.1', from: '/usr/share/doc/bootc/changelog.Debian.gz' });
  const junk = tempRoot(t);
  put(junk, 'usr/share/doc/bootc/changelog.Debian.gz', 'not gzip');
  t.equal((await readBootcVersion(junk)).version, undefined);
  const empty = tempRoot(t);
  const v = await readBootcVersion(empty);
  t.equal(v.version, undefined);
  t.match(v.from, /no package database/);
  const label = tempRoot(t);
  put(label, 'usr/share/doc/bootc/README.md', 'org.opencontainers.image.version=43.20260101\n');
  t.equal((await readBootcVersion(label)).version, undefined, 'no guessing from other files');
});

t.test('an endless rpm database view ends in bounded time, with one line naming sqlite3 and the file', { skip: sqlite3 ? false : 'no sqlite3 on this host' }, async (t) => {
  const root = tempRoot(t);
  mkdirSync(join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  // A Packages view over a recursive CTE that never yields a row and never ends: -safe and
  // trusted_schema=OFF do not stop it; only a deadline does.
  sqlite(join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'),
    "CREATE TABLE Name (key TEXT, hnum INTEGER, idx INTEGER); INSERT INTO Name VALUES ('bootc', 1, 0);" +
    'CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, NULL AS blob FROM c WHERE x < 0;');
  const err = await readBootcVersion(root, 'image', { timeoutMs: 2_000 }).then(() => undefined, (e: unknown) => e as Error);
  t.ok(err, 'the read does not return a version: it fails');
  t.equal(err?.name, 'UsageError', 'bad input (exit 2), not an infrastructure failure');
  t.match(err?.message, /^sqlite3 on \/usr\/lib\/sysimage\/rpm\/rpmdb\.sqlite: timed out after 2000 ms/, 'one line naming the tool and the file');
  t.notMatch(err?.message ?? '', /\n/, 'one line');
});

t.test('an rpm database view with endless output stops at the output limit, naming sqlite3 and the file', { skip: sqlite3 ? false : 'no sqlite3 on this host' }, async (t) => {
  const root = tempRoot(t);
  mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
  sqlite(join(root, 'var/lib/rpm/rpmdb.sqlite'),
    "CREATE TABLE Name (key TEXT, hnum INTEGER, idx INTEGER); INSERT INTO Name VALUES ('bootc', 1, 0);" +
    'CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 1 AS hnum, randomblob(100000) AS blob FROM c;');
  const err = await readBootcVersion(root, 'image', { timeoutMs: 60_000, maxOutputBytes: 1024 * 1024 }).then(() => undefined, (e: unknown) => e as Error);
  t.equal(err?.name, 'UsageError');
  t.match(err?.message, /^sqlite3 on \/var\/lib\/rpm\/rpmdb\.sqlite: stopped after more than 1048576 bytes of output/, 'the limit, not the deadline, ended it');
});
