// doctor: what a run needs of this host, one line per check (`--json` for CI). Exit 0 when
// nothing fails (warnings say what a run will do without), 3 when something does.
import { UsageError } from '../errors.js';
import { doctor, findingLine } from '../host/doctor.js';
import { DEFAULT_PROFILE, loadProfile } from '../profile/profile.js';
import { parse } from './args.js';
import { EXIT } from './exit-codes.js';

export async function cmdDoctor(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, profile: { type: 'string', multiple: true } });
  if (positionals.length) throw new UsageError('doctor takes no arguments but --profile NAME (repeatable) and --json');
  const names = (values.profile as string[] | undefined) ?? [DEFAULT_PROFILE];
  const profiles = await Promise.all(names.map((n) => loadProfile(n)));
  const checks = await doctor({ profiles });
  const failed = checks.some((c) => c.status === 'fail');
  if (values.json) process.stdout.write(JSON.stringify({ ok: !failed, profiles: names, checks }) + '\n');
  else process.stdout.write(checks.map(findingLine).join('\n') + `\n${failed ? 'doctor: this host cannot run the harness as it is (FAIL lines above)' : 'doctor: this host can run the harness'}\n`);
  return failed ? EXIT.infra : EXIT.passed;
}
