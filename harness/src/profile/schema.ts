// The schema of a VM profile (vm-images/*.json), in zod: it validates a profile and fills
// its defaults, and the JSON Schema editors check profiles with is generated from it
// (vm-images/profile.schema.json), so the two cannot drift apart. Every leaf carries the
// words of its message (`must be a boolean`); schema-issue.ts adds the key path and the
// value found. Objects are strict: a misspelt key is refused, never silently ignored.
import { resolve } from 'node:path';
import { z } from 'zod';
import { PROFILES_DIR } from '../util/paths.js';
import { CONSOLE_PATTERNS } from '../vm/console-patterns.js';

export const KERNEL_TIERS = ['rhel9', 'pre-6.15', 'default'] as const;
export const INSTALLERS = ['auto', 'bootc', 'direct'] as const;
/** bootc's install backend: the image decides (install/bootc-backend.ts), or one is forced. */
export const BOOTC_BACKENDS = ['auto', 'ostree', 'composefs'] as const;
export const VERITY = ['required', 'optional', 'none'] as const;
export const NETWORKS = ['isolated', 'outbound'] as const;
export const ROOT_LAYOUTS = ['plain', 'composefs'] as const;

/** A profile's name, and a fixture's: a file stem that is safe on a command line. */
export const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const UNIT = /^[A-Za-z0-9:_.@\\-]+\.(service|target|socket|timer|mount|path)$/;
const CAP_CLAUSE = '(?:all|cap_[a-z0-9_]+(?:,cap_[a-z0-9_]+)*)[=+-][eip]*';
const CAPS = new RegExp(`^${CAP_CLAUSE}(?: ${CAP_CLAUSE})*$`);
const RELEASE = /^\d+\.\d+(\.\d+)?$/;
const IMAGE_REF = /^[a-z0-9][^\s]*$/;
/** Absolute and normalized: no empty, "." or ".." segment, no trailing slash, not "/" itself. */
const ABS_PATH = /^(?:\/(?!\.{1,2}(?:\/|$))[^/]+)+$/;

/** The schema option that words a failure: the same words whatever the reason (type, range, pattern). */
const says = (what: string) => ({ error: what });

const bool = () => z.boolean(says('must be a boolean'));
const positiveInt = () => z.int(says('must be a positive integer')).positive(says('must be a positive integer'));
const text = (pattern: RegExp, what: string) => z.string(says(`must be ${what}`)).regex(pattern, says(`must be ${what}`));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, says(`must be one of ${values.join(', ')}`));
const absPath = () => text(ABS_PATH, 'an absolute path');
const unit = () => text(UNIT, 'a unit name ending in .service, .target, .socket, .timer, .mount or .path');

/** A list of distinct items: a repeat is a mistake in the profile, not a second requirement. */
function listOf<T extends z.ZodType>(item: T) {
  return z
    .array(item, says('must be a list'))
    .superRefine((xs, ctx) => {
      const dup = xs.findIndex((x, i) => xs.indexOf(x) !== i);
      if (dup >= 0) ctx.addIssue({ code: 'custom', path: [dup], message: 'must not repeat an earlier entry' });
    })
    .meta({ uniqueItems: true });
}

/** An object with exactly these keys: unknown keys are refused. */
const strict = <S extends z.ZodRawShape>(shape: S, what = 'must be an object') => z.strictObject(shape, says(what));

/** A section that may be left out: then it is the section with every key left out (its defaults). */
function section<S extends z.ZodRawShape>(shape: S) {
  const s = strict(shape);
  // Every key of a section is optional; TypeScript cannot see that through the generic shape.
  return s.prefault(() => ({}) as z.input<typeof s>);
}

const source = strict(
  {
    fixture: text(NAME, 'a fixture name').optional().meta({ description: 'A local fixture: fixtures/<name>.' }),
    image: text(IMAGE_REF, 'an image reference').optional().meta({ description: 'An image reference (upstream images).' }),
  },
  'must be an object with fixture or image',
)
  .refine((s) => Object.keys(s).length === 1, says('must have exactly one of fixture, image'))
  .transform((s): { fixture: string } | { image: string } => (s.fixture !== undefined ? { fixture: s.fixture } : { image: s.image! }))
  // What the refinement says, for editors: exactly one of the two keys.
  .meta({ minProperties: 1, maxProperties: 1 });

const expectSection = section({
  suid: listOf(absPath()).default(() => []).meta({ description: 'Absolute paths that must carry setuid or setgid in the guest.' }),
  caps: z
    .record(absPath(), text(CAPS, 'capability text like "cap_net_raw=ep"'), says('must be an object of absolute path -> capability text'))
    .default(() => ({}))
    .meta({ description: 'Path -> capability text, e.g. "cap_net_raw=ep".' }),
  readonlyUsr: bool().default(false),
  bootc: bool().default(false).meta({ description: 'bootc is present in the image.' }),
  zfs: bool().default(false),
  zfsLoadedAtBoot: bool()
    .default(false)
    .meta({ description: 'The zfs module is loaded at every boot by systemd-modules-load (an /etc/modules-load.d entry), before anything runs modprobe.' }),
  tailscaled: bool().default(false),
  services: listOf(unit()).default(() => []).meta({ description: 'Units that must be active.' }),
  enabledUnits: listOf(unit()).default(() => []).meta({ description: 'Units that must be enabled.' }),
  luks: strict({ tpm2: bool() }, 'must be null or an object').nullable().default(null),
  composefs: strict({ verity: oneOf(VERITY) }, 'must be null or an object').nullable().default(null),
});

const consoleSection = section({
  warnOnly: listOf(oneOf(CONSOLE_PATTERNS.map((p) => p.id) as [string, ...string[]]))
    .default(() => [])
    .meta({ description: 'Ids of console-badness patterns downgraded to warnings.' }),
});

const budgetsSection = section({
  imageMs: positiveInt().default(600_000),
  diskMs: positiveInt().default(600_000),
  bootMs: positiveInt().default(300_000),
  testMs: positiveInt().default(120_000),
  shutdownMs: positiveInt().default(60_000),
});

const vmSection = section({
  memoryMiB: positiveInt().default(2048),
  cpus: positiveInt().default(2),
  diskGiB: positiveInt().default(6),
  scratchDisks: z
    .int(says('must be a whole number from 0 to 4'))
    .min(0, says('must be a whole number from 0 to 4'))
    .max(4, says('must be a whole number from 0 to 4'))
    .default(1)
    .meta({ description: 'Empty virtio disks (1 GiB each) for suites that need a block device, e.g. a throwaway zpool.' }),
  network: oneOf(NETWORKS)
    .default('isolated')
    .meta({
      description:
        "The test VM's network. isolated: the guest opens no connection anywhere (QEMU user net, restrict=on); only the harness's SSH forward reaches in. outbound: the guest may connect out through passt (NAT), but never to the host's loopback (--no-map-gw).",
    }),
});

const ci = strict({
  matrix: bool().default(false).meta({ description: 'A CI matrix row runnable here (local fixtures).' }),
  upstream: bool()
    .optional()
    .meta({ description: 'An upstream row: the image is pulled from its registry and gated in CI (matrix --list --upstream), never in a local matrix run.' }),
  runner: text(/^\S+$/, 'a runner label').optional().meta({ description: 'The CI runner label; an upstream row needs one with KVM and registry access.' }),
})
  .superRefine((c, ctx) => {
    if (!c.upstream) return;
    // An upstream row pulls a registry image and boots it under KVM: where it runs is chosen, not defaulted.
    if (c.runner === undefined) ctx.addIssue({ code: 'custom', path: ['runner'], message: 'is required' });
    if (c.matrix) ctx.addIssue({ code: 'custom', path: ['matrix'], message: 'must be false for an upstream row (local runs use local fixtures)' });
  })
  // What the refinement says, for editors.
  .meta({ if: { properties: { upstream: { const: true } }, required: ['upstream'] }, then: { required: ['runner'], properties: { matrix: { const: false } } } });
const ciSection = ci.prefault(() => ({}) as z.input<typeof ci>);

export const profileSchema = strict(
  {
    // Lets editors find this schema; no meaning to the harness.
    $schema: z.string(says('must be a string')).optional(),
    // Optional in the file; when present it must match the file stem (checked by validateProfile).
    name: text(NAME, 'a profile name').optional(),
    // Resolved before validation (profile/extends.ts): the merged profile is what is checked.
    extends: text(/\S/, 'a profile name or a relative path')
      .optional()
      .meta({ description: 'A profile this one starts from: a shipped profile name ("trixie") or a path relative to this file. Objects merge key by key; lists and values are replaced.' }),
    description: text(/\S/, 'a non-empty string'),
    source,
    installer: oneOf(INSTALLERS).default('auto'),
    bootcBackend: oneOf(BOOTC_BACKENDS)
      .default('auto')
      .meta({ description: "bootc's install backend: auto follows the image (composefs for an image whose kernel is a UKI, else ostree, as bootc decides), or forced (bootc install --composefs-backend for composefs). --bootc-backend overrides it." }),
    rootLayout: oneOf(ROOT_LAYOUTS)
      .optional()
      .meta({ description: 'How the direct installer lays out the root: the image\'s tree (plain) or a bootc-style composefs repository. Left out: the image\'s org.bootc-harness.root label decides (plain without it).' }),
    kernel: strict({
      tier: oneOf(KERNEL_TIERS).optional(),
      release: text(RELEASE, 'a version prefix like "6.12"').optional().meta({ description: 'The expected version prefix, e.g. "6.12"; needs the tier it is in.' }),
    }).meta({ description: 'The kernel compat tier (and release prefix) the image must boot; no tier: any kernel (the generic profile).' }),
    expect: expectSection,
    console: consoleSection,
    budgets: budgetsSection,
    vm: vmSection,
    ci: ciSection,
  },
  'must be a JSON object',
)
  .superRefine((p, ctx) => {
    if (p.ci.upstream && 'fixture' in p.source) ctx.addIssue({ code: 'custom', path: ['ci', 'upstream'], message: 'must be left out for a local fixture (an upstream row pulls source.image)' });
  })
  .meta({ title: 'bootc-harness VM profile', description: 'What an image is, how to install it and what it must have. The file stem is the profile name.' });

/** Where the JSON Schema is committed, beside the profiles their `"$schema"` names it from. */
export const PROFILE_SCHEMA_FILE = resolve(PROFILES_DIR, 'profile.schema.json');

/** The JSON Schema of a profile file: what a profile may say, defaults included (zod's input side). */
export function profileJsonSchemaText(): string {
  return `${JSON.stringify(z.toJSONSchema(profileSchema, { io: 'input', target: 'draft-2020-12' }), null, 2)}\n`;
}
