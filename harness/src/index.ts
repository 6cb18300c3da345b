// The harness's public API for suites: nothing under suites/ imports anything else.
export { Machine, type MachineOptions, type ExecResult } from './machine.js';
export { readRunContext, type RunContext } from './run/context.js';
export type { ScratchDisk } from './vm/scratch-disks.js';
export { AssertionFailure, InfraError } from './errors.js';
export { scanConsole, describeHit, excerpt, harnessCause, type ConsoleHit } from './vm/console-patterns.js';
export { kernelTierOf, type Profile } from './profile/profile.js';
export type { Manifest, SpecialEntry } from './image/manifest.js';
// The judgements the suites make, as pure functions over guest outputs (unit-tested with real ones).
export { gainedPrivileges, getcapFailures, localPersistentMounts, parseGetcap, parseSetidFind, parseStatIds, NOT_LOCAL_PERSISTENT } from './verdict/privileges.js';
export { bootcStatusMismatch } from './verdict/bootc-status.js';
export { zfsVermagicMismatch, vermagicRelease, zfsVersionMismatch } from './verdict/zfs.js';
export { verityObjectsVerdict, fsSupportsVerity, ext4Features } from './verdict/verity-objects.js';
export { fsverityDigest, parseFsverityDigest } from './verdict/fsverity.js';
export {
  composefsImagePath,
  firstLower,
  LIST_EROFS_SUPERBLOCKS,
  parseErofsSuperblocks,
  lowerCandidates,
  compareTreesScript,
  parseTreeComparison,
  lowerMismatch,
  type ErofsSuperblock,
  type TreeComparison,
} from './verdict/composefs-lower.js';
export { unattendedUnlock, unlockJournalCommand, parseJournal, cryptsetupUnit, systemdEscape, keyslotsOutsideTpm2, type JournalEntry, type UnlockVerdict } from './verdict/tpm2-unlock.js';
