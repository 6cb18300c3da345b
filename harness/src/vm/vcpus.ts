// Pure: how many vCPUs a VM gets. Under KVM a vCPU is nearly free: the profile's count.
// Under TCG each vCPU is a host thread emulating a CPU flat out, so VMs that run at once
// share the host's cores: measured on 2 cores, one 2-vCPU guest reached ssh in 32 s on
// 45 CPU-seconds and a 1-vCPU guest in 43 s on 44, so two 1-vCPU guests side by side
// finish both boots sooner than two 2-vCPU guests one after the other, and two 2-vCPU
// guests side by side oversubscribe the cores (guests then stall: RCU stalls, sshd late).

export function vcpusFor(p: { accel: 'kvm' | 'tcg'; profileCpus: number; hostCores: number; vmsAtOnce: number }): { count: number; why: string } {
  if (p.accel === 'kvm') return { count: p.profileCpus, why: `the profile's ${p.profileCpus} (KVM)` };
  const share = Math.max(1, Math.floor(p.hostCores / Math.max(1, p.vmsAtOnce)));
  const count = Math.min(p.profileCpus, share);
  const why = `TCG: a vCPU is a host thread; ${p.hostCores} host cores shared by ${p.vmsAtOnce} VM${p.vmsAtOnce === 1 ? '' : 's'} at once`;
  return { count, why: count < p.profileCpus ? `${why} (the profile asks ${p.profileCpus})` : why };
}
