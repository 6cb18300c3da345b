// Picks the accelerator. /dev/kvm existing is not enough: on some hosts (nested,
// paravirtual KVM) stock kernels hang or `-cpu host` aborts. So `auto` boots the
// guest's own kernel under KVM for a few seconds and uses KVM only if that kernel
// gets as far as looking for its root filesystem; the result is cached per host boot.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { spawn } from '../util/exec.js';
import { withDeadline } from '../util/deadline.js';
import { cacheDir } from '../util/paths.js';
import { killGroup } from '../util/process-group.js';
import { kvmProbeArgs, type Accel } from './qemu-args.js';

export interface AccelChoice {
  accel: Accel;
  reason: string;
}

// Lines a kernel prints only after it has run a good part of its init.
const PROBE_REACHED = /VFS: Unable to mount root|Kernel panic - not syncing|Run \/init as init process|Freeing unused kernel (image )?memory/;
const PROBE_BUDGET_MS = 20_000;

function kvmUsable(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch {
    return '/dev/kvm is missing or not accessible';
  }
}

export async function probeKvm(vmlinuz: string): Promise<{ ok: boolean; reason: string }> {
  const missing = kvmUsable();
  if (missing) return { ok: false, reason: missing };
  const child = spawn(kvmProbeArgs(vmlinuz), { stage: 'vm' });
  let out = '';
  let err = '';
  const reached = new Promise<string>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = PROBE_REACHED.exec(out);
      if (m) resolve(m[0]);
    });
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = child.then((r) => r);
  const started = Date.now();
  try {
    const result = await withDeadline(
      Promise.race([reached.then((line) => ({ line })), exited.then((r) => ({ exit: r.exitCode ?? r.signal ?? 'unknown' }))]),
      PROBE_BUDGET_MS,
      'KVM probe',
    );
    if ('line' in result) return { ok: true, reason: `KVM probe: guest kernel reached "${result.line}" in ${((Date.now() - started) / 1000).toFixed(1)} s` };
    if (PROBE_REACHED.test(out)) return { ok: true, reason: 'KVM probe: guest kernel ran to its root mount' };
    return { ok: false, reason: `KVM probe: QEMU ended (${result.exit}) before the guest kernel ran (${err.trim().split('\n').pop() ?? 'no message'})` };
  } catch {
    const lines = out.split('\n').filter(Boolean).length;
    return { ok: false, reason: `KVM probe: guest kernel stalled under KVM (${lines} console lines in ${PROBE_BUDGET_MS / 1000} s)` };
  } finally {
    await killGroup(child, exited, 2000);
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Before anything starts, for --accel kvm: why KVM does not run guests here (from this host
 * boot's cached probe, or a probe with the host's own kernel), or undefined when it does.
 */
export async function kvmRefusal(): Promise<string | undefined> {
  const k = await kvmState();
  return k.works === false ? k.reason : undefined;
}

/**
 * Whether KVM runs guests here: false when /dev/kvm is unusable or the probe failed, true when
 * the probe (this host boot's, or one now with the host's kernel) passed, undefined when there
 * is no kernel to probe with (the first run probes with its guest's kernel).
 */
export async function kvmState(otherKernels: readonly string[] = []): Promise<{ works: boolean | undefined; reason: string }> {
  const missing = kvmUsable();
  if (missing) return { works: false, reason: missing };
  const hostKernel = `/boot/vmlinuz-${hostRelease()}`;
  const kernel = [hostKernel, ...otherKernels].find((k) => existsSync(k));
  const probe = readProbe() ?? (kernel ? await probeAndKeep(kernel) : undefined);
  if (!probe) return { works: undefined, reason: `/dev/kvm opens, not probed yet (no host kernel ${hostKernel} to probe with; the first run probes with its guest's kernel)` };
  return { works: probe.ok, reason: probe.reason };
}

function hostRelease(): string {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function probeFile(): string {
  return join(cacheDir(), `kvm-probe-${bootId()}.json`);
}

function readProbe(): { ok: boolean; reason: string } | undefined {
  try {
    const p = JSON.parse(readFileSync(probeFile(), 'utf8')) as { ok: boolean; reason: string };
    return { ...p, reason: `${p.reason} (cached for this host boot)` };
  } catch {
    return undefined;
  }
}

async function probeAndKeep(vmlinuz: string): Promise<{ ok: boolean; reason: string }> {
  const probe = await probeKvm(vmlinuz);
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(probeFile(), JSON.stringify(probe));
  return probe;
}

export async function chooseAccel(requested: 'auto' | Accel, vmlinuz: string): Promise<AccelChoice> {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'requested with --accel tcg' };
  const probe = readProbe() ?? (await probeAndKeep(vmlinuz));
  if (requested === 'kvm') {
    if (!probe.ok) throw new InfraError('vm', `--accel kvm: KVM does not run guests here: ${probe.reason}`);
    return { accel: 'kvm', reason: `requested; ${probe.reason}` };
  }
  return probe.ok ? { accel: 'kvm', reason: probe.reason } : { accel: 'tcg', reason: `falling back to TCG: ${probe.reason}` };
}
