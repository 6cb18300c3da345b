// Shared by the unit-file and argv tests: systemd's reading of a command line, and the
// rule every argv the harness builds keeps.
import type { Test } from 'tap';

/** No element carries whitespace, except the one after `-append` (the kernel command line). */
export function pure(t: Test, argv: readonly string[], what: string): void {
  const bad = argv.filter((a, i) => /\s/.test(a) && argv[i - 1] !== '-append');
  t.same(bad, [], `${what}: no element with whitespace`);
  t.notOk(argv.some((a) => a === ''), `${what}: no empty element`);
}

/** systemd's reading of a command line (systemd.service(5)): words split on whitespace,
 *  "…" with C escapes, '…' literal; then %% -> % and $$ -> $. Enough to check our quoting. */
export function systemdSplit(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let w = '';
    while (i < line.length && line[i] !== ' ') {
      const c = line[i]!;
      if (c === '"') {
        i++;
        while (line[i] !== '"') {
          if (i >= line.length) throw new Error('unterminated "');
          if (line[i] === '\\') i++;
          w += line[i++];
        }
        i++;
      } else if (c === "'") {
        i++;
        while (line[i] !== "'") w += line[i++];
        i++;
      } else {
        if (c === '\\') i++;
        w += line[i++];
      }
    }
    words.push(w.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}
