// vCPUs: the profile's under KVM; under TCG no more than the host's cores shared by the VMs
// running at once (never fewer than one), so concurrent TCG guests do not oversubscribe.
import t from 'tap';
import { vcpusFor } from '../src/vm/vcpus.js';

t.test('KVM: the profile decides', async (t) => {
  t.equal(vcpusFor({ accel: 'kvm', profileCpus: 2, hostCores: 2, vmsAtOnce: 4 }).count, 2);
});

t.test('TCG: the host cores shared by the VMs at once, at most the profile, at least one', async (t) => {
  t.equal(vcpusFor({ accel: 'tcg', profileCpus: 2, hostCores: 2, vmsAtOnce: 1 }).count, 2, 'one VM on 2 cores: both');
  const two = vcpusFor({ accel: 'tcg', profileCpus: 2, hostCores: 2, vmsAtOnce: 2 });
  t.equal(two.count, 1, 'two VMs on 2 cores: one each');
  t.match(two.why, /2 host cores shared by 2 VMs.*the profile asks 2/, 'the report says why');
  t.equal(vcpusFor({ accel: 'tcg', profileCpus: 2, hostCores: 16, vmsAtOnce: 2 }).count, 2, 'never more than the profile asks');
  t.equal(vcpusFor({ accel: 'tcg', profileCpus: 4, hostCores: 2, vmsAtOnce: 3 }).count, 1, 'never fewer than one');
});
