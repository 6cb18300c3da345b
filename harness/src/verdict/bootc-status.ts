// image.bootc-status, judged: bootc's own record of the booted image names the image under
// test by its manifest digest, not just any image. `bootc status --json`'s
// .status.booted.image.imageDigest is "the digest of the fetched image (e.g. sha256:a0...)"
// (bootc, crates/lib/src/spec.rs: ImageStatus.image_digest, serialized camelCase).

interface BootcHost {
  status?: { booted?: { image?: { image?: { image?: string; transport?: string }; imageDigest?: string } | null } | null };
}

/** Pure: why `bootc status --json` does not name the image under test, or undefined when it does. */
export function bootcStatusMismatch(statusJson: string, imageDigest: string | undefined): string | undefined {
  let host: BootcHost;
  try {
    host = JSON.parse(statusJson) as BootcHost;
  } catch (e) {
    return `bootc status --json printed no JSON: ${(e as Error).message}`;
  }
  const booted = host.status?.booted?.image;
  if (!booted) return 'bootc status names no booted image (.status.booted.image is empty)';
  const name = `${booted.image?.transport ? `${booted.image.transport}:` : ''}${booted.image?.image ?? '(no name)'}`;
  if (!imageDigest) return `the harness recorded no digest for the image under test, so bootc's ${name}@${booted.imageDigest ?? '?'} cannot be judged`;
  if (booted.imageDigest !== imageDigest) return `bootc booted ${name}@${booted.imageDigest ?? '(no digest)'}, not the image under test (${imageDigest})`;
  return undefined;
}
