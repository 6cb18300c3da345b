// What the guest's sshd said to the harness while a boot was waited for: the evidence that a
// quiet guest is not silent but refusing (the image's fault: an authorized_keys sshd cannot
// read, root login not permitted, a penalty after those failures), as opposed to one that
// never answers (the infrastructure's, retried once).

/** ssh2's error for a handshake that reached authentication and was refused (its `level`). */
export function isAuthRefusal(e: unknown): e is Error {
  return e instanceof Error && (e as Error & { level?: string }).level === 'client-authentication';
}

export class SshRefusals {
  /** Authentications the server refused: how many, and its last message. */
  authRefused = 0;
  lastAuthMessage = '';
  /** Connections the server dropped with OpenSSH's "Not allowed at this time". */
  notAllowed = 0;
  /** When the last refusal of either kind came (ms since the epoch). */
  lastAt = 0;

  noteAuthRefused(e: Error, at = Date.now()): void {
    this.authRefused++;
    this.lastAuthMessage = e.message;
    this.lastAt = at;
  }

  noteNotAllowed(at = Date.now()): void {
    this.notAllowed++;
    this.lastAt = at;
  }

  /**
   * The image-side cause these show, or undefined when the server has refused nothing since
   * `since` (an early refusal, before a key provisioned at boot was in place, is no cause) and
   * does not refuse `now`.
   */
  cause(nowNotAllowed = false, since = 0): string | undefined {
    if (!nowNotAllowed && (this.lastAt === 0 || this.lastAt < since)) return undefined;
    const parts: string[] = [];
    if (this.authRefused) {
      parts.push(
        `it refused the harness's key ${this.authRefused} time${this.authRefused === 1 ? '' : 's'} ("${this.lastAuthMessage}": is /root/.ssh/authorized_keys a regular file sshd can read, owned by root and not group- or world-writable, and is root login with a key permitted?)`,
      );
    }
    if (nowNotAllowed || this.notAllowed) {
      parts.push(`${nowNotAllowed ? 'it now answers' : `it answered ${this.notAllowed} connection${this.notAllowed === 1 ? '' : 's'} with`} "Not allowed at this time" (OpenSSH's PerSourcePenalties after repeated failed attempts, or MaxStartups)`);
    }
    return parts.length ? `the guest's sshd answers but refuses the harness: ${parts.join('; ')}` : undefined;
  }
}
