# bootc-harness tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

harness := "node harness/bin/bootc-harness.js"

# Install the host tools from Debian (idempotent; QEMU from bookworm-backports on bookworm; --no-mkcomposefs where no row needs it).
setup *ARGS:
    bash harness/scripts/setup-host.sh {{ARGS}}

# What a run needs of this host, one line per check with the fix (--json for CI; --profile NAME for its space and tools).
doctor *ARGS:
    {{harness}} doctor {{ARGS}}

# Package, install, boot and assert an image (default: the trixie fixture).
test-install *ARGS:
    {{harness}} test-install {{ARGS}}

# The pre-release gate: exit 0 only when every required tier ran and passed (e.g. just gate --require 0,1,3).
gate *ARGS:
    {{harness}} gate {{ARGS}}

# Package a rootfs directory into an OCI image in containers-storage.
package ROOTFS IMAGE *ARGS:
    {{harness}} package {{ROOTFS}} {{IMAGE}} {{ARGS}}

# Print the metadata manifest (SUID/SGID, caps, xattrs, owners, hardlinks) as JSON.
manifest TARGET:
    {{harness}} manifest {{TARGET}}

# Build (or reuse from cache) a fixture rootfs.
fixture NAME:
    {{harness}} fixtures build {{NAME}}

# Build (or reuse) the named fixtures, or every one, concurrently with one shared package cache.
fixtures *NAMES:
    {{harness}} fixtures build {{NAMES}}

# The harness's own tests: fixtures built in the background, unit tests, then real end-to-end runs.
test: setup
    npx tsc --noEmit
    # tap compiles its test class for the configured plugins once; doing it up front keeps the first run clean
    npx tap build
    npx tsx harness/scripts/test-all.ts

# Unit tests only (no VM).
unit:
    npx tap build
    BOOTC_HARNESS_UNIT_ONLY=1 npx tap

# Interrupt N runs at random moments and check that each leaves nothing behind.
soak-interrupt N="20":
    npx tsx harness/scripts/interrupt-soak.ts {{N}}

# Cold, warm and a plain-QEMU baseline on the default fixture: reports/bench.json and the speed targets.
bench:
    npx tsx harness/scripts/bench.ts

# What matrix --jobs should default to: two warm rows one VM at a time, then two at once (reports/bench-jobs.json).
bench-jobs:
    npx tsx harness/scripts/bench-jobs.ts

# Every local fixture profile (one per kernel compat tier) and one report with a row per tier.
matrix *ARGS:
    {{harness}} matrix {{ARGS}}
