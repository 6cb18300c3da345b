// What each test file cost, read from tap's TAP output (for the table CI ends with).

/** Pure: per-file durations and totals from tap's TAP output. */
export function tapCosts(out: string): { files: { file: string; ok: boolean; ms: number }[]; pass: number; fail: number } {
  const files: { file: string; ok: boolean; ms: number }[] = [];
  for (const m of out.matchAll(/^(not ok|ok) \d+ - (\S+\.test\.ts)(?: # time=([\d.]+)ms)?/gm)) {
    files.push({ file: m[2]!, ok: m[1] === 'ok', ms: Number(m[3] ?? 0) });
  }
  let pass = 0;
  let fail = 0;
  for (const m of out.matchAll(/^# \{ total: \d+(.*)\}$/gm)) {
    pass += Number(/pass: (\d+)/.exec(m[1]!)?.[1] ?? 0);
    fail += Number(/fail: (\d+)/.exec(m[1]!)?.[1] ?? 0);
  }
  return { files, pass, fail };
}
