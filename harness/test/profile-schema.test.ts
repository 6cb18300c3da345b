// The JSON Schema editors check profiles with is generated from the zod schema the harness
// validates them with; the committed copy must be what the schema generates today.
import t from 'tap';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { listProfiles, validateProfile } from '../src/profile/profile.js';
import { PROFILE_SCHEMA_FILE, profileJsonSchemaText } from '../src/profile/schema.js';
import { PROFILES_DIR } from '../src/util/paths.js';

const REGENERATE = 'regenerate it with: npx tsx harness/scripts/profile-schema.ts';

t.test('the committed vm-images/profile.schema.json is the one the profile schema generates', async (t) => {
  const committed = await readFile(PROFILE_SCHEMA_FILE, 'utf8').catch(() => '');
  t.equal(committed, profileJsonSchemaText(), `vm-images/profile.schema.json is stale: ${REGENERATE}`);
});

t.test('its patterns are valid in the regex dialect of JSON Schema (ECMA-262, unicode)', async (t) => {
  const patterns: string[] = [];
  JSON.stringify(JSON.parse(profileJsonSchemaText()), (key, value) => {
    if (key === 'pattern' && typeof value === 'string') patterns.push(value);
    return value;
  });
  t.ok(patterns.length > 5, 'the schema carries the patterns');
  for (const p of patterns) t.doesNotThrow(() => new RegExp(p, 'u'), p);
});

t.test('every profile names the schema first, and the schema is not taken for a profile', async (t) => {
  const files = (await readdir(PROFILES_DIR)).filter((f) => f.endsWith('.json') && f !== 'profile.schema.json');
  const names = await listProfiles();
  t.same(names, files.map((f) => f.slice(0, -'.json'.length)).sort(), 'every other .json file is a profile');
  t.notOk(names.includes('profile.schema'), 'profile.schema.json is not a profile');
  for (const f of files) {
    const raw = JSON.parse(await readFile(join(PROFILES_DIR, f), 'utf8')) as Record<string, unknown>;
    t.equal(Object.keys(raw)[0], '$schema', `${f}: "$schema" is the first key`);
    t.equal(raw.$schema, './profile.schema.json', `${f}: it names the schema beside it`);
  }
});

t.test('"$schema" is accepted and is no part of the profile', async (t) => {
  const raw = { $schema: './profile.schema.json', description: 'x', source: { fixture: 'trixie' }, kernel: {} };
  t.notOk('$schema' in validateProfile(raw, 'p'));
  t.throws(() => validateProfile({ ...raw, $schema: 1 }, 'p'), { name: 'UsageError', message: 'profile "p": $schema must be a string, found 1' });
});
