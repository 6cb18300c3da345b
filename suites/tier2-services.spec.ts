// Tier 2: the kernel modules and services the image promises are really there and
// working on the kernel it boots: ZFS (module built for this very kernel, userland of
// the same release, a pool round trip on a scratch disk), tailscaled, and every unit
// the profile lists. A feature the profile does not expect is skipped with the reason.
import { zfsVermagicMismatch, zfsVersionMismatch, type Machine } from '../harness/src/index.js';
import { test, expect, sq } from './machine.js';

interface UnitState {
  load: string;
  active: string;
  sub: string;
  enabled: string;
}

async function unitState(machine: Machine, unit: string): Promise<UnitState> {
  const r = await machine.exec(`systemctl show -p LoadState -p ActiveState -p SubState -p UnitFileState -- ${sq(unit)}`);
  // Key=value lines: systemctl prints properties in its own order, not the order asked.
  const v = Object.fromEntries(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { load: v.LoadState ?? '', active: v.ActiveState ?? '', sub: v.SubState ?? '', enabled: v.UnitFileState ?? '' };
}

/** Why a unit is not active, or undefined once it is (waits out "activating"). */
async function notActive(machine: Machine, unit: string): Promise<string | undefined> {
  const s = await unitState(machine, unit);
  if (s.load !== 'loaded') return `${unit} is not installed (LoadState ${s.load || 'unknown'})`;
  try {
    await machine.waitForUnit(unit, 90_000);
    return undefined;
  } catch (e) {
    return `${unit}: ${(e as Error).message.split('\n')[0]}`;
  }
}

function notEnabled(unit: string, s: UnitState): string | undefined {
  if (s.load !== 'loaded') return `${unit} is not installed (LoadState ${s.load || 'unknown'})`;
  if (s.enabled !== 'enabled' && s.enabled !== 'enabled-runtime') return `${unit} is ${s.enabled || 'not enabled'}`;
  return undefined;
}

test.describe('zfs', { tag: '@tier2' }, () => {
  test.beforeEach(({ profile }) => test.skip(!profile.expect.zfs, 'the profile does not expect ZFS'));

  // First in the block: the tests after it run modprobe. The journal's record is of this boot
  // whatever runs later, so a second suites run against the same VM judges the same.
  test('zfs.loaded-at-boot', async ({ machine, profile }) => {
    test.skip(!profile.expect.zfsLoadedAtBoot, 'the profile does not expect ZFS loaded at boot');
    const inserted = await machine.succeed("journalctl -b --no-pager -o cat SYSLOG_IDENTIFIER=systemd-modules-load | grep -E \"^Inserted module 'zfs'$\" || true");
    const conf = await machine.succeed("grep -lsx zfs /etc/modules-load.d/*.conf /usr/lib/modules-load.d/*.conf /run/modules-load.d/*.conf || true");
    expect(inserted.trim(), `ZFS: systemd-modules-load did not insert zfs this boot (modules-load.d entries naming zfs: ${conf.trim() || 'none'})`).not.toBe('');
    expect((await machine.exec('test -d /sys/module/zfs')).exitCode, 'ZFS: /sys/module/zfs is missing although systemd-modules-load inserted it').toBe(0);
    test.info().annotations.push({ type: 'modules-load.d', description: conf.trim() });
  });

  test('zfs.module-matches-kernel', async ({ machine, run }) => {
    const release = (await machine.succeed('uname -r')).trim();
    const r = await machine.exec('modinfo -F vermagic zfs');
    expect(r.exitCode, `ZFS: no zfs kernel module for the booted kernel ${release}: ${r.stderr.trim()}`).toBe(0);
    // The module the guest loads is the one the host read from the image before install (run.zfsVermagic).
    expect(zfsVermagicMismatch(r.stdout, run.zfsVermagic, release), "the guest's zfs module is the image's, built for the booted kernel").toBeUndefined();
  });

  test('zfs.module-loads', async ({ machine }) => {
    const r = await machine.exec('modprobe zfs');
    expect(r.exitCode, `ZFS: modprobe zfs failed: ${r.stderr.trim()}`).toBe(0);
    const sys = await machine.exec('test -d /sys/module/zfs');
    expect(sys.exitCode, 'ZFS: /sys/module/zfs does not exist after modprobe').toBe(0);
  });

  test('zfs.userland-matches-module', async ({ machine, run }) => {
    const r = await machine.exec('zfs version');
    expect(r.exitCode, `ZFS: the zfs command does not run: ${(r.stderr.trim() || r.stdout.trim()).split('\n')[0]}`).toBe(0);
    const loaded = (await machine.exec('cat /sys/module/zfs/version')).stdout;
    // Both against the module the host read from the image before install (run.zfsModuleVersion).
    expect(zfsVersionMismatch(r.stdout, loaded, run.zfsModuleVersion), "the guest's zfs userland and loaded module are the image's module version").toBeUndefined();
  });

  test('zfs.pool-round-trip', async ({ machine, run }) => {
    const disk = run.scratchDisks[0];
    test.skip(!disk, 'the profile attaches no scratch disk (vm.scratchDisks is 0)');
    // The pool name carries the run id, so a pool left by something else is never touched.
    const pool = `bh${run.runId.replace(/[^A-Za-z0-9]/g, '').slice(-12)}`;
    const mnt = `/run/${pool}`;
    const zpool = await machine.exec('command -v zpool');
    expect(zpool.exitCode, 'ZFS: the zpool command is not in the image').toBe(0);
    const present = await machine.exec(`test -b ${sq(disk!.guestPath)}`);
    expect(present.exitCode, `the scratch disk ${disk!.guestPath} is not in the guest`).toBe(0);
    await machine.succeed(`zpool create -f -o cachefile=none -m ${sq(mnt)} ${pool} ${sq(disk!.guestPath)}`, 120_000);
    try {
      const written = (await machine.succeed(`head -c 64M /dev/urandom | tee ${sq(`${mnt}/data`)} | sha256sum`, 120_000)).split(' ')[0];
      await machine.succeed(`zpool sync ${pool}`, 60_000);
      await machine.succeed(`zpool scrub -w ${pool}`, 300_000);
      const status = await machine.succeed(`zpool status -v ${pool}`);
      expect(status, 'zpool status after the scrub').toMatch(/state: ONLINE/);
      expect(status, 'the scrub must repair nothing and find no errors').toMatch(/scrub repaired 0B .* with 0 errors/);
      expect(status).toMatch(/errors: No known data errors/);
      const read = (await machine.succeed(`sha256sum ${sq(`${mnt}/data`)}`, 120_000)).split(' ')[0];
      expect(read, 'data read back from the pool').toBe(written);
    } finally {
      await machine.exec(`zpool destroy -f ${pool}`, 120_000);
    }
    const gone = await machine.exec(`zpool list -H ${pool}`);
    expect(gone.exitCode, `pool ${pool} still exists after zpool destroy`).not.toBe(0);
  });
});

test.describe('tailscale', { tag: '@tier2' }, () => {
  test.beforeEach(({ profile }) => test.skip(!profile.expect.tailscaled, 'the profile does not expect tailscaled'));

  test('tailscale.daemon', async ({ machine }) => {
    const unit = 'tailscaled.service';
    const s = await unitState(machine, unit);
    const problems = [notEnabled(unit, s), await notActive(machine, unit)].filter(Boolean);
    expect(problems, `tailscaled must be enabled and active: ${problems.join('; ')}`).toEqual([]);
  });

  test('tailscale.cli', async ({ machine }) => {
    const r = await machine.exec('tailscale version');
    expect(r.exitCode, `tailscale: "tailscale version" failed: ${(r.stderr.trim() || r.stdout.trim()).split('\n')[0]}`).toBe(0);
    expect(r.stdout.trim(), 'tailscale version prints a version').toMatch(/^\d+\.\d+/);
  });
});

test.describe('services', { tag: '@tier2' }, () => {
  test('services.active', async ({ machine, profile }) => {
    test.skip(profile.expect.services.length === 0, 'the profile lists no services');
    const problems: string[] = [];
    for (const unit of profile.expect.services) {
      const why = await notActive(machine, unit);
      if (why) problems.push(why);
    }
    expect(problems, `services the profile requires to be active: ${problems.join('; ')}`).toEqual([]);
  });

  test('services.enabled', async ({ machine, profile }) => {
    test.skip(profile.expect.enabledUnits.length === 0, 'the profile lists no units to be enabled');
    const problems: string[] = [];
    for (const unit of profile.expect.enabledUnits) {
      const why = notEnabled(unit, await unitState(machine, unit));
      if (why) problems.push(why);
    }
    expect(problems, `units the profile requires to be enabled: ${problems.join('; ')}`).toEqual([]);
  });
});
