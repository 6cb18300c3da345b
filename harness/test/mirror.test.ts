// The host's Debian mirrors, read from its apt sources (deb822 and one-line).
import t from 'tap';
import { mirrorsFromAptSources } from '../src/util/mirror.js';

t.test('mirrorsFromAptSources: deb822 URIs lines', async (t) => {
  const debianSources = [
    'Types: deb',
    'URIs: http://deb.debian.org/debian',
    'Suites: trixie trixie-updates',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb',
    'URIs: http://deb.debian.org/debian-security',
    'Suites: trixie-security',
    'Components: main',
    '',
  ].join('\n');
  t.same(mirrorsFromAptSources([debianSources]), ['http://deb.debian.org/debian'], 'security skipped');
  t.same(mirrorsFromAptSources(['types: deb\nuris: https://mirror.example.org/debian/ http://ftp.de.debian.org/debian\nsuites: trixie\ncomponents: main\n']), [
    'http://ftp.de.debian.org/debian',
    'https://mirror.example.org/debian',
  ], 'several URIs on one line, case-insensitive keys, trailing slash dropped, debian.org hosts first');
  t.same(mirrorsFromAptSources(['URIs: http://deb.debian.org/debian\n']), [], 'a stanza without type, suite and components is not an archive');
});

t.test('mirrorsFromAptSources: one-line deb lines', async (t) => {
  const list = [
    '# deb http://commented.example/debian trixie main',
    'deb http://ftp.us.debian.org/debian/ bookworm main contrib',
    'deb-src http://src.example.org/debian bookworm main',
    'deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] https://mirror.example.net/debian bookworm-updates main',
    'deb http://security.debian.org/debian-security bookworm-security main',
    '  deb http://ftp.us.debian.org/debian bookworm-backports main',
  ].join('\n');
  t.same(mirrorsFromAptSources([list]), ['http://ftp.us.debian.org/debian', 'https://mirror.example.net/debian'], 'options skipped, comments and deb-src ignored, duplicates removed');
});

t.test('mirrorsFromAptSources: non-Debian archives are skipped', async (t) => {
  const texts = [
    'deb [signed-by=/usr/share/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main\n',
    'Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: trixie\nComponents: stable\n',
    'Types: deb\nURIs: https://pkgs.tailscale.com/stable/debian\nSuites: trixie\n',
    'deb http://deb.debian.org/debian trixie main\n',
  ];
  const found = mirrorsFromAptSources(texts);
  t.notOk(found.some((u) => u.includes('nodesource')), 'nodesource is not a mirror');
  t.ok(found.includes('http://deb.debian.org/debian'), 'the real mirror is found');
  // Third-party repos whose path ends in /debian (docker, tailscale) look like mirrors to the URI test;
  // hostDebianMirror() takes the first one, so such a host would bootstrap from docker's repo.
  t.same(found, ['http://deb.debian.org/debian'], 'only the Debian archive');
  t.same(mirrorsFromAptSources(['deb https://deb.nodesource.com/node_20.x nodistro main\n']), [], 'only nodesource: nothing');
  t.same(mirrorsFromAptSources([]), []);
});
