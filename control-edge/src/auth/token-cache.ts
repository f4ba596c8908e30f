/** A resolved token is trusted this long before libSQL is asked again (bounds revocation delay). */
export const TOKEN_CACHE_MS = 2_000;

/**
 * Per-isolate memo of token → workspace, so a warm call costs no database read. Holds no I/O
 * object, so it is safe across requests on Workers.
 */
export class TokenCache {
  private readonly entries = new Map<string, { workspaceId: string | undefined; at: number }>();

  get(secret: string): { workspaceId: string | undefined } | undefined {
    const e = this.entries.get(secret);
    if (!e || Date.now() - e.at > TOKEN_CACHE_MS) return undefined;
    return e;
  }

  set(secret: string, workspaceId: string | undefined): void {
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(secret, { workspaceId, at: Date.now() });
  }
}
