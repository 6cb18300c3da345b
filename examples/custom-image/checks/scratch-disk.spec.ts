// Our own check, beside the shipped tiers: the same `machine` (SSH to the booted guest),
// `run` (its scratch disks, its report), `profile` and `manifest` the tiers get.
import { test, expect, sq } from 'bootc-harness/test';

test('custom: data written to a scratch disk is there after a reboot', async ({ machine, run }) => {
  const disk = run.scratchDisks[0];
  expect(disk, 'the profile attaches a scratch disk (vm.scratchDisks)').toBeDefined();
  const dev = sq(disk!.guestPath);
  await machine.succeed(`mkfs.ext4 -q -F ${dev} && mkdir -p /mnt/scratch && mount ${dev} /mnt/scratch`);
  const written = (await machine.succeed('head -c 4M /dev/urandom | tee /mnt/scratch/data | sha256sum')).split(' ')[0];
  await machine.succeed('umount /mnt/scratch');
  await machine.reboot();
  await machine.succeed(`mount ${dev} /mnt/scratch`);
  const read = (await machine.succeed('sha256sum /mnt/scratch/data')).split(' ')[0];
  await machine.succeed('umount /mnt/scratch');
  expect(read, 'what was read back after the reboot').toBe(written);
});
