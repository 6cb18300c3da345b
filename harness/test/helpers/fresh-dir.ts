// Fresh, empty directories under one temporary root, which goes when the test `t` ends.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export function freshDirs(t: Test, prefix: string): () => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  let seq = 0;
  return () => {
    const d = join(root, `d${seq++}`);
    mkdirSync(d);
    return d;
  };
}
