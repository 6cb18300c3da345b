// Host tools: a missing one is named with the Debian package that provides it.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { TOOL_PACKAGES, requireTools, which } from '../src/util/tools.js';

t.test('requireTools names the missing tool and its Debian package', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'bootc-harness-path-'));
  const saved = process.env.PATH;
  t.teardown(() => {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  });
  process.env.PATH = empty;

  let err: unknown;
  try {
    requireTools(['qemu-img']);
  } catch (e) {
    err = e;
  }
  t.type(err, UsageError);
  t.equal((err as Error).message, 'missing host tool qemu-img (install Debian package qemu-utils; or run: just setup)');

  try {
    requireTools(['mcopy', 'mmd', 'bootc-harness-no-such-tool']);
    err = undefined;
  } catch (e) {
    err = e;
  }
  t.type(err, UsageError);
  t.equal(
    (err as Error).message,
    'missing host tools mcopy, mmd, bootc-harness-no-such-tool (install Debian package mtools, bootc-harness-no-such-tool; or run: just setup)',
    'every tool named, packages de-duplicated, unknown tools named as themselves',
  );
  t.notMatch((err as Error).message, /\n/, 'one line');

  // A tool that is there (and executable) passes; a non-executable file does not count.
  writeFileSync(join(empty, 'sfdisk'), '#!/bin/sh\n');
  chmodSync(join(empty, 'sfdisk'), 0o755);
  writeFileSync(join(empty, 'getcap'), 'not executable');
  chmodSync(join(empty, 'getcap'), 0o644);
  t.doesNotThrow(() => requireTools(['sfdisk']));
  t.equal(which('sfdisk'), join(empty, 'sfdisk'));
  t.throws(() => requireTools(['getcap']), { message: /getcap \(install Debian package libcap2-bin;/ }, 'not executable, even for root');
  t.equal(which('sfdisk', ''), undefined, 'an empty PATH finds nothing');
  t.doesNotThrow(() => requireTools([]), 'nothing required, nothing missing');
  t.equal(TOOL_PACKAGES['qemu-system-x86_64'], 'qemu-system-x86');
});
