// AppArmor, read from the profiles on disk and the kernel's list of loaded ones, never
// assumed: does the profile that confines a binary (Ubuntu's usr.bin.swtpm, say) let it
// create files and sockets where the harness will put them? Pure parsing and matching;
// the caller hands in how to read an include (live: /etc/apparmor.d; tests: real texts).

/** One file rule: `[deny] [owner] GLOB PERMS,` (or `PERMS GLOB,`). */
export interface FileRule {
  glob: string;
  perms: string;
  owner: boolean;
  deny: boolean;
}

export interface AaProfile {
  name: string;
  /** The executable path (glob) the profile attaches to, when it names one. */
  attach?: string;
  flags: string[];
  rules: FileRule[];
}

/** Reads `<name>` of an include (`abstractions/base`, `local/usr.bin.swtpm`); undefined when absent. */
export type ReadInclude = (name: string) => string | undefined;

// What apparmor's own tunables/home and tunables/global define, for texts read without them.
const DEFAULT_VARIABLES: Record<string, string[]> = { HOMEDIRS: ['/home/'], HOME: ['@{HOMEDIRS}/*/', '/root/'], PROC: ['/proc/'], pid: ['{[1-9],[1-9][0-9]*}'] };

const INCLUDE = /^\s*#?include\s+(if\s+exists\s+)?[<"]([^>"]+)[>"]\s*$/;

/** Pure: the text with every include replaced by the included text (an absent one by nothing). */
export function expandIncludes(text: string, read: ReadInclude, depth = 0): string {
  if (depth > 16) return text;
  return text
    .split('\n')
    .map((line) => {
      const m = INCLUDE.exec(line);
      if (!m) return line;
      const inc = read(m[2]!);
      return inc === undefined ? '' : expandIncludes(inc, read, depth + 1);
    })
    .join('\n');
}

const stripComment = (line: string) => line.replace(/(^|\s)#.*$/, '').trim();

/** Pure: variable definitions (`@{X}=a b`, `@{X}+=c`), over apparmor's defaults. */
export function variablesOf(text: string): Map<string, string[]> {
  const vars = new Map(Object.entries(DEFAULT_VARIABLES).map(([k, v]) => [k, [...v]]));
  const seen = new Set<string>();
  for (const raw of text.split('\n')) {
    const m = /^@\{(\w+)\}\s*(\+?=)\s*(.*)$/.exec(stripComment(raw));
    if (!m) continue;
    const values = m[3]!.split(/\s+/).filter(Boolean);
    if (m[2] === '+=' || seen.has(m[1]!)) vars.set(m[1]!, [...(m[2] === '+=' ? (vars.get(m[1]!) ?? []) : []), ...values]);
    else vars.set(m[1]!, values);
    seen.add(m[1]!);
  }
  return vars;
}

const PERMS = /^[rwaklmixPpUuCD]+$/;
const PATHISH = /^(\/|@\{|"\/|"@\{)/;

function fileRule(statement: string): FileRule | undefined {
  const words = statement.replace(/\s*->.*$/, '').split(/\s+/).filter(Boolean);
  let deny = false;
  let owner = false;
  while (words.length && ['audit', 'deny', 'owner', 'allow', 'file'].includes(words[0]!)) {
    const w = words.shift()!;
    if (w === 'deny') deny = true;
    if (w === 'owner') owner = true;
  }
  if (words.length !== 2) return undefined;
  const [a, b] = words as [string, string];
  const [glob, perms] = PATHISH.test(a) && PERMS.test(b) ? [a, b] : PATHISH.test(b) && PERMS.test(a) ? [b, a] : [undefined, undefined];
  if (!glob || !perms) return undefined;
  return { glob: glob.replace(/^"|"$/g, ''), perms, owner, deny };
}

/** Pure: the profiles of a policy text (includes already expanded), their file rules at the top level of each. */
export function parseProfiles(text: string): AaProfile[] {
  const out: AaProfile[] = [];
  let current: AaProfile | undefined;
  let depth = 0;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = stripComment(raw);
    if (!line) continue;
    if (depth === 0) {
      // `profile NAME [ATTACH] [flags=(..)] {` or `ATTACH [flags=(..)] {`
      const m = /^(?:profile\s+(\S+)\s+)?(\/\S*)?\s*(?:flags\s*=\s*\(([^)]*)\))?\s*\{$/.exec(line);
      if (m && (m[1] || m[2])) {
        current = { name: m[1] ?? m[2]!, ...(m[2] ? { attach: m[2] } : {}), flags: (m[3] ?? '').split(/[\s,]+/).filter(Boolean), rules: [] };
        out.push(current);
        depth = 1;
      }
      continue;
    }
    if (line.endsWith('{')) depth++;
    if (line === '}' || line.startsWith('}')) {
      depth--;
      if (depth === 0) current = undefined;
      continue;
    }
    if (depth !== 1 || !current) continue;
    pending += (pending ? ' ' : '') + line;
    if (!pending.endsWith(',')) continue;
    const rule = fileRule(pending.slice(0, -1));
    pending = '';
    if (rule) current.rules.push(rule);
  }
  return out;
}

/** Pure: a glob with its variables replaced, as every alternative it stands for. */
function expandVariables(glob: string, vars: Map<string, string[]>, depth = 0): string[] {
  const m = /@\{(\w+)\}/.exec(glob);
  if (!m || depth > 8) return [glob];
  const values = vars.get(m[1]!) ?? [];
  return values.flatMap((v) => expandVariables(glob.slice(0, m.index) + v + glob.slice(m.index + m[0].length), vars, depth + 1));
}

/** Pure: an AppArmor path glob as a regular expression (`**` crosses `/`, `*` and `?` do not, `{a,b}`, `[..]`). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      re += end > i ? `[${glob.slice(i + 1, end)}]` : '\\[';
      i = end > i ? end : i;
    } else if (c === '{') {
      re += '(?:';
      braces++;
    } else if (c === '}' && braces > 0) {
      re += ')';
      braces--;
    } else if (c === ',' && braces > 0) re += '|';
    else re += c.replace(/[.+^$()|\\/]/g, '\\$&');
  }
  // Several slashes in a row name the same path (`@{HOME}/` expands to `/root//`).
  return new RegExp(`^${re.replace(/(\\\/)+/g, '\\/+')}$`);
}

export interface Access {
  allowed: boolean;
  /** Permissions asked for that no rule grants, or that a deny rule takes away. */
  missing: string;
  /** The rules that granted what was granted. */
  by: FileRule[];
}

/**
 * Pure: whether `profile` lets a process open `path` with every permission in `perms`
 * (`w` covers creating a file or socket; `k` lock). `owner` rules count: the harness
 * creates its directories as the user the confined tool runs as.
 */
export function accessOf(profile: AaProfile, path: string, perms: string, vars: Map<string, string[]>): Access {
  const matching = profile.rules.filter((r) => expandVariables(r.glob, vars).some((g) => globToRegExp(g).test(path)));
  const grants = (r: FileRule, p: string) => r.perms.includes(p) || (p === 'a' && r.perms.includes('w'));
  const missing = [...perms].filter((p) => !matching.some((r) => !r.deny && grants(r, p)) || matching.some((r) => r.deny && grants(r, p)));
  return { allowed: missing.length === 0, missing: missing.join(''), by: matching.filter((r) => !r.deny && [...perms].some((p) => grants(r, p))) };
}

/** Pure: the profile among `profiles` that attaches to the executable `binary` (its real path). */
export function profileFor(profiles: readonly AaProfile[], binary: string, vars: Map<string, string[]>): AaProfile | undefined {
  return profiles.find((p) => p.attach !== undefined && expandVariables(p.attach, vars).some((g) => globToRegExp(g).test(binary)));
}

/** Pure: /sys/kernel/security/apparmor/profiles ("NAME (MODE)" a line) as name -> mode. */
export function loadedProfiles(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(.+) \((\w+)\)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}
