// The LUKS2/TPM2 pieces of the direct installer: pinned command lines, and a real
// round trip on a small image file with a real swtpm (no VM, no loop, no dm).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LUKS_HEADER_MIB, encryptArgs, enrollArgs, enrollSwtpmArgs, encryptForTpm2, luksKargs, vmEnrollArgs, VM_SETUP_KEY } from '../src/install/luks.js';
import { whyFatal } from '../src/run/boot.js';
import { scanConsole } from '../src/vm/console-patterns.js';

t.test('command lines', async (t) => {
  t.same(encryptArgs('/w/root.img', '/w/k'), [
    'cryptsetup', 'reencrypt', '--encrypt', '--type', 'luks2', '--batch-mode',
    '--reduce-device-size', `${LUKS_HEADER_MIB}M`,
    '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
    '--key-file', '/w/k', '/w/root.img',
  ]);
  t.same(enrollSwtpmArgs('/w/tpm', '/w/e.sock'), [
    'swtpm', 'socket', '--tpm2', '--tpmstate', 'dir=/w/tpm',
    '--server', 'type=unixio,path=/w/e.sock', '--ctrl', 'type=unixio,path=/w/e.sock.ctrl',
    '--flags', 'not-need-init,startup-clear',
  ]);
  t.same(enrollArgs('/w/root.img', '/w/k', '/w/e.sock'), [
    'systemd-cryptenroll', '--unlock-key-file=/w/k', '--tpm2-device=swtpm:path=/w/e.sock', '--tpm2-pcrs=', '--wipe-slot=password', '/w/root.img',
  ]);
  t.same(vmEnrollArgs('/dev/disk/by-id/virtio-bh-target-part2'), [
    '/usr/bin/systemd-cryptenroll', '--unlock-key-file=/var/tmp/bootc-harness-luks-setup.key', '--tpm2-device=auto', '--tpm2-pcrs=7', '--wipe-slot=password', '/dev/disk/by-id/virtio-bh-target-part2',
  ], 'in the installer VM: its own TPM, bound to PCR 7 like bootc tpm2-luks');
  t.equal(VM_SETUP_KEY, '/var/tmp/bootc-harness-luks-setup.key');
  t.same(luksKargs('1234'), [
    'rd.luks.uuid=1234',
    'rd.luks.options=1234=tpm2-device=auto',
    'systemd.journald.forward_to_console=1',
    'systemd.journald.max_level_console=notice',
  ]);
});

t.test('a passphrase prompt on a TPM2-sealed disk is reported as a failed TPM2 unlock', async (t) => {
  const [prompt] = scanConsole('Please enter passphrase for disk root (luks-1234):', new Set());
  t.ok(prompt, 'the prompt is a console hit');
  t.match(whyFatal(prompt!, 'tpm2'), /^TPM2 unlock failed: the initrd fell back to asking for a passphrase/);
  t.notMatch(whyFatal(prompt!, 'none'), /TPM2/, 'without a sealed key it is just a prompt');
  const [tpm] = scanConsole('systemd-cryptsetup[312]: TPM2 operation failed, falling back to traditional unlocking: Operation not permitted', new Set());
  t.match(whyFatal(tpm!, 'tpm2'), /TPM2 unlock failed/);
});

t.test('encryptForTpm2: one systemd-tpm2 token, no password slot, and nothing left behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-luks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, 'root.img');
  execFileSync('truncate', ['-s', '64M', image]);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', image, `${64 - LUKS_HEADER_MIB}M`]);
  const { luksUuid } = await encryptForTpm2({ image, workDir: dir, tpmStateDir: join(dir, 'tpm') });
  t.match(luksUuid, /^[0-9a-f-]{36}$/);
  const meta = JSON.parse(execFileSync('cryptsetup', ['luksDump', '--dump-json-metadata', image], { encoding: 'utf8' })) as {
    tokens: Record<string, { type: string; keyslots: string[] }>;
    keyslots: Record<string, unknown>;
  };
  t.same(Object.values(meta.tokens).map((x) => x.type), ['systemd-tpm2'], 'exactly one systemd-tpm2 token');
  t.same(Object.keys(meta.keyslots), Object.values(meta.tokens)[0]!.keyslots, 'the only keyslot is the token\'s');
  t.notOk(existsSync(join(dir, 'luks-setup.key')), 'the setup key is gone');
  t.ok(existsSync(join(dir, 'tpm')), 'the TPM state the VM will boot with exists');
  // Only what this test could have left: its temp dir is named in any swtpm, loop or mount of it.
  const procs = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(dir));
  t.same(procs, [], 'no swtpm left');
  t.same(execFileSync('losetup', ['--list', '--noheadings', '-O', 'BACK-FILE'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(dir)), [], 'no loop device');
  t.notOk(execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' }).includes(dir), 'no mount');
});
