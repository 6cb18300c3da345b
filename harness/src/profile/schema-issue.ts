// A zod error as the one line a bad profile or recipe has always been reported with:
// `<key path> <what was wrong>, found <value>`, `<key path> is required` or
// `unknown key <key path>`. Shared by profiles and fixture recipes so both read alike.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** A value as quoted in a message: JSON, cut short so the message stays one readable line. */
export function found(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * `expect.suid[1]`, `expect.caps["/usr/bin/ping"]`: schema keys dotted, list items by
 * index, and keys the file chooses (paths) quoted, since they may hold dots themselves.
 */
export function keyPath(path: Path): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && IDENTIFIER.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

/** What the file holds at a path; `present` false when the last key is missing from its object. */
function valueAt(raw: unknown, path: Path): { present: boolean; value: unknown } {
  let at: unknown = raw;
  for (const k of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, k)) return { present: false, value: undefined };
    at = (at as Record<PropertyKey, unknown>)[k];
  }
  return { present: true, value: at };
}

const isPrefix = (p: Path, of: Path) => p.length <= of.length && p.every((k, i) => k === of[i]);

/**
 * The issue to report: the first, unless an object around it has an unknown key. zod lists
 * unknown keys after an object's fields; a misspelt key explains the rest, so it comes first.
 */
function pick(issues: readonly Issue[]): Issue {
  const first = issues[0]!;
  const around = issues.filter((i) => i.code === 'unrecognized_keys' && isPrefix(i.path, first.path));
  return around.sort((a, b) => a.path.length - b.path.length)[0] ?? first;
}

/**
 * One line for the first thing wrong in `raw`. Schemas carry their own words (`must be a
 * boolean`); the key path and the value found are added here. `subject` names the whole
 * document when it is the whole document that is wrong ("the profile").
 */
export function describeIssues(error: z.ZodError, raw: unknown, subject: string): string {
  const issue = pick(error.issues);
  const at = keyPath(issue.path) || subject;
  switch (issue.code) {
    case 'unrecognized_keys':
      // The key as written after a dot, even when it is no identifier: `unknown key expect.zsf`.
      return `unknown key ${issue.path.length ? `${at}.` : ''}${issue.keys[0]}`;
    case 'invalid_key': {
      // A record key (a path) that is not one: its path is the record's, plus "key".
      const key = issue.path[issue.path.length - 1];
      return `${keyPath(issue.path.slice(0, -1)) || subject} key ${issue.issues[0]?.message ?? issue.message}, found ${found(key)}`;
    }
    default: {
      const { present, value } = valueAt(raw, issue.path);
      if (!present && issue.path.length > 0) return `${at} is required`;
      return `${at} ${issue.message}, found ${found(value)}`;
    }
  }
}
