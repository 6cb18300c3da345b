// setup: the host tools, installed by the script the package carries (as `just setup` does
// in a checkout), so a consumer runs `npx bootc-harness setup` and nothing of ours by path.
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { runInherit } from '../util/exec.js';
import { REPO_ROOT } from '../util/paths.js';

export const SETUP_SCRIPT = join(REPO_ROOT, 'harness/scripts/setup-host.sh');

export async function cmdSetup(args: string[], signal: AbortSignal): Promise<number> {
  if (args.length) throw new UsageError('setup takes no arguments');
  if (process.getuid?.() !== 0) throw new UsageError('setup installs Debian packages: run it as root (sudo -E npx bootc-harness setup)');
  return runInherit(['bash', SETUP_SCRIPT], { stage: 'input', signal, stdin: 'inherit' });
}
