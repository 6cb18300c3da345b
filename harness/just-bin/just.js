#!/usr/bin/env node
// Runs the just binary shipped by rust-just-linux-x64, passing arguments and exit status through.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const binary = join(dirname(require.resolve('rust-just-linux-x64/package.json')), 'bin', 'just');
const r = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
if (r.error) {
  console.error(`just: ${r.error.message}`);
  process.exit(127);
}
process.exit(r.status ?? 1);
