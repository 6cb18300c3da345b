// Which profile judges a SOURCE when --profile is not given: the image's own word (its
// label), then its os-release IMAGE_ID (mkosi writes one), then the source's name when a
// profile of that name exists; else the generic profile, which expects only what holds
// for every bootable image. Never another image's specifics.
import { basename } from 'node:path';
import type { Source } from '../image/source.js';
import { readTextInRoot } from '../image/in-root.js';

/** The label by which an image names the profile that judges it. */
export const PROFILE_LABEL = 'org.bootc-harness.profile';
/** What judges an image nothing else names. */
export const GENERIC_PROFILE = 'generic';

export interface ProfileChoice {
  name: string;
  reason: string;
}

export interface SourceFacts {
  labels?: Record<string, string>;
  /** os-release IMAGE_ID, when the source's files could be read. */
  imageId?: string;
}

/** Pure: the name a source goes by: `output/snow` -> snow, `ghcr.io/frostyard/snow:latest` -> snow. */
export function sourceName(src: Source): string | undefined {
  switch (src.kind) {
    case 'fixture':
      return src.name;
    case 'dir':
    case 'oci':
    case 'oci-archive':
      return basename(src.path).replace(/(\.(oci|tar|ociarchive))+$/i, '');
    default:
      return src.ref.split('@')[0]!.split('/').pop()!.replace(/:[^:]*$/, '');
  }
}

/** Pure: the choice, from what the source says and which profiles exist. */
export function chooseProfile(src: Source, facts: SourceFacts, known: readonly string[]): ProfileChoice {
  const label = facts.labels?.[PROFILE_LABEL];
  if (label && known.includes(label)) return { name: label, reason: `the image's label ${PROFILE_LABEL}=${label}` };
  if (facts.imageId && known.includes(facts.imageId)) return { name: facts.imageId, reason: `the image's os-release IMAGE_ID=${facts.imageId}` };
  const name = sourceName(src);
  if (name && known.includes(name)) return { name, reason: `the source's name "${name}"` };
  const why = [label ? `label ${PROFILE_LABEL}=${label} names no profile` : '', facts.imageId ? `IMAGE_ID=${facts.imageId} names no profile` : '', name ? `no profile is named "${name}"` : '']
    .filter(Boolean)
    .join('; ');
  return { name: GENERIC_PROFILE, reason: `nothing names a profile${why ? ` (${why})` : ''}: the generic one, which expects only what every bootable image must have` };
}

/** Pure: IMAGE_ID from an os-release text. */
export function osReleaseImageId(text: string): string | undefined {
  const m = /^IMAGE_ID=(?:"([^"]*)"|'([^']*)'|(\S*))\s*$/m.exec(text);
  return (m?.[1] ?? m?.[2] ?? m?.[3]) || undefined;
}

/** IMAGE_ID of a rootfs directory, read inside it (its /etc/os-release is usually a link) through
 *  the safe opener: a FIFO or device there is refused with one line, never waited on. */
export async function rootfsImageId(root: string): Promise<string | undefined> {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    const text = await readTextInRoot(root, p, 64 * 1024);
    if (text !== undefined) return osReleaseImageId(text);
  }
  return undefined;
}
