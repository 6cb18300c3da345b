// What `npm pack` gives: everything the CLI reaches at run time, nothing of the checkout
// besides (tests, CI, examples), a license, and entry points that exist. The packed
// package is run for real, outside the checkout, by e2e-package.test.ts.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { type Dirent, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SETUP_SCRIPT } from '../src/cli/setup.js';
import { DEB_CACHE_HOOK, DKMS_CACHE_HOOK } from '../src/rootfs-builder/recipe.js';
import { REPO } from './helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  private?: boolean;
  license: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
  files: string[];
};

t.test('a package, not a private checkout: license, bin, exports', async (t) => {
  t.equal(pkg.private, undefined, 'not private');
  t.equal(pkg.license, 'Apache-2.0');
  t.match(readFileSync(join(REPO, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/, 'LICENSE holds its text');
  t.ok(readFileSync(join(REPO, pkg.bin['bootc-harness']!), 'utf8').startsWith('#!/usr/bin/env node\n'), 'the bin is a node script');
  for (const [entry, target] of Object.entries(pkg.exports)) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) t.ok(existsSync(join(REPO, file)), `exports["${entry}"] -> ${file} exists`);
  }
  t.ok(pkg.exports['./test'], 'bootc-harness/test: what a caller\'s spec imports');
  // A file: or link: dependency resolves only inside this checkout: an installed package could not.
  t.same(Object.entries(pkg.dependencies).filter(([, v]) => /^(file|link):/.test(v)), [], 'no runtime dependency on a path of the checkout');
  t.ok(pkg.dependencies.tsx, 'tsx at run time: the CLI and the suites are TypeScript, run without a build step');
});

t.test('npm pack carries what the CLI reaches at run time, and nothing else of the checkout', async (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
  const need = [
    'playwright.config.ts',
    'harness/bin/bootc-harness.js',
    'harness/src/cli/main.ts',
    'harness/src/report/tests-reporter.ts',
    'suites/machine.ts',
    ...readdirSync(join(REPO, 'suites')).map((f) => `suites/${f}`),
    'vm-images/profile.schema.json',
    ...readdirSync(join(REPO, 'vm-images')).map((f) => `vm-images/${f}`),
    // every file of every recipe (an mkosi recipe has a tree: mkosi.extra/...)
    ...(readdirSync(join(REPO, 'fixtures'), { recursive: true, withFileTypes: true }) as Dirent[]).filter((e) => e.isFile()).map((e) => relative(REPO, join(e.parentPath, e.name))),
    ...[SETUP_SCRIPT, DEB_CACHE_HOOK, DKMS_CACHE_HOOK].map((p) => relative(REPO, p)),
    'LICENSE',
    'README.md',
  ];
  t.same(need.filter((f) => !files.has(f)), [], 'nothing the CLI reads is left out');
  t.same([...files].filter((f) => /^(harness\/test|\.ci|\.github|examples|reports|node_modules)\//.test(f)), [], 'no tests, CI, examples or reports');
});

t.test("the README's \"Use it from your repository\" shows exactly the example repository's files", async (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = /^## Use it from your repository\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  t.ok(section, 'the section exists');
  const example = join(REPO, 'examples', 'custom-image');
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const shown = [...section.matchAll(/^`([^`\n]+)`:\n\n```\w*\n([\s\S]*?)\n```$/gm)].map((m) => [m[1]!, m[2]!] as const);
  const files = walk(example).map((f) => relative(example, f)).sort();
  t.same(shown.map(([p]) => p).sort(), files, 'every file of the example, and no other');
  for (const [path, body] of shown) t.equal(body, readFileSync(join(example, path), 'utf8').trimEnd(), `${path} as it is`);
});
