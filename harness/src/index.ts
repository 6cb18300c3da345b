// The harness's public API for suites: nothing under suites/ imports anything else.
export { Machine, type MachineOptions, type ExecResult } from './machine.js';
export { readRunContext, type RunContext } from './run/context.js';
export type { ScratchDisk } from './vm/scratch-disks.js';
export { AssertionFailure, InfraError } from './errors.js';
export { scanConsole, describeHit, excerpt, harnessCause, type ConsoleHit } from './vm/console-patterns.js';
export { kernelTierOf, type Profile } from './profile/profile.js';
export type { Manifest, SpecialEntry } from './image/manifest.js';
