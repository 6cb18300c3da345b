// summary: a finished run's summary.json for a CI page: the job summary's Markdown and the
// step outputs (the GitHub Action's), so the workflow needs no jq of its own.
import { appendFileSync, existsSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { githubOutputs, summaryMarkdown } from '../report/markdown.js';
import type { Summary } from '../report/summary.js';
import { reportsDir } from '../util/paths.js';
import { parse } from './args.js';
import { EXIT } from './exit-codes.js';

/** A run's report directory: a path, or a run id (or "latest") under the reports directory; a link (latest) resolved. */
export function runDirOf(run: string): string {
  const dir = /[/.]/.test(run) ? resolve(run) : resolve(reportsDir(), run);
  return existsSync(dir) ? realpathSync(dir) : dir;
}

export function readSummary(runDir: string, cmd: string): Summary {
  try {
    return JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
  } catch {
    throw new UsageError(`${cmd}: no report at ${runDir} (summary.json)`);
  }
}

export function cmdSummary(args: string[]): number {
  const { values, positionals } = parse(args, { markdown: { type: 'string' }, 'github-output': { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('usage: bootc-harness summary RUN [--markdown FILE|-] [--github-output FILE]');
  const runDir = runDirOf(positionals[0]!);
  const s = readSummary(runDir, 'summary');
  const md = values.markdown as string | undefined;
  const gh = values['github-output'] as string | undefined;
  // Appended, as GitHub's files are: other steps write to them too.
  if (md === undefined || md === '-') process.stdout.write(summaryMarkdown(s, runDir));
  else appendFileSync(md, summaryMarkdown(s, runDir));
  if (gh !== undefined) appendFileSync(gh, githubOutputs(s, runDir));
  return EXIT.passed;
}
