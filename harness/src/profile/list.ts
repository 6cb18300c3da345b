// The shipped profiles' names: the file stems of the profiles directory (vm-images/*.json).
import { readdir } from 'node:fs/promises';
import { PROFILES_DIR } from '../util/paths.js';
import { NAME } from './schema.js';

/** The JSON Schema beside the profiles (profile.schema.json): not a profile itself. */
const SCHEMA_FILE = /\.schema\.json$/;

/** Profile names (file stems of vm-images/*.json), sorted. */
export async function listProfiles(dir: string = PROFILES_DIR): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((f) => f.endsWith('.json') && !SCHEMA_FILE.test(f))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((n) => NAME.test(n))
    .sort();
}
