// Writes vm-images/profile.schema.json from the profile schema (harness/src/profile/schema.ts).
// Run after changing the schema: npx tsx harness/scripts/profile-schema.ts
// (harness/test/profile-schema.test.ts fails until the committed file matches).
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { PROFILE_SCHEMA_FILE, profileJsonSchemaText } from '../src/profile/schema.js';

writeFileSync(PROFILE_SCHEMA_FILE, profileJsonSchemaText());
console.log(`wrote ${relative(process.cwd(), PROFILE_SCHEMA_FILE)}`);
