import type { JWTPayload } from 'jose';
import {
  grantRevocationId,
  tokenRevocationId,
  type TokenRevocationRepository,
} from '../store/repositories/token-revocations.js';

/** How often, at most, expired entries are dropped from memory, in seconds. */
const PRUNE_INTERVAL_SECONDS = 60;

/**
 * The revoked grants (refresh token families, named in access tokens by `grant_id`) and access tokens (by `uti`),
 * held in memory so introspection and userinfo consult revocation without a database read per request.
 *
 * Kept fresh the way the directory cache is: revocations this node records are added at once (the store calls
 * back after commit); those of other nodes arrive by polling `token_revocations` for versions above the last one
 * seen, one indexed read per interval off the request path, so a revocation on one node is seen on every node
 * within one poll interval. An entry is kept `retentionSeconds` after its revocation (the longest access token
 * lifetime plus skew and margin): by then every token it covered has expired.
 *
 * @see RFC 6749 §4.1.2 (a replayed code revokes what it issued), RFC 7009 §2.1, RFC 7662 §2.2
 */
export class RevocationList {
  /** Revocation id → Unix seconds of the revocation. */
  private readonly entries = new Map<string, number>();
  private lastVersion = 0;
  private lastPruneAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly store: TokenRevocationRepository,
    private readonly retentionSeconds: number,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void,
  ) {
    store.onRevoked((ids) => {
      const at = this.now();
      for (const id of ids) this.entries.set(id, at);
    });
  }

  /** Loads the current revocations, then polls every `intervalMs` milliseconds. */
  async start(intervalMs: number): Promise<void> {
    await this.load();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads revocations recorded since the last poll (by any node); resolves when they are in memory. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.load();
    } catch (error) {
      this.onError(error);
    } finally {
      this.polling = false;
    }
  }

  /**
   * Whether an access token's grant (`grant_id`) or the token itself (`uti`) is revoked. Memory only.
   *
   * @param claims verified claims of an access token this server issued.
   */
  isRevoked(claims: JWTPayload): boolean {
    const grantId = claims.grant_id;
    if (typeof grantId === 'string' && this.entries.has(grantRevocationId(grantId))) return true;
    const uti = claims.uti;
    return typeof uti === 'string' && this.entries.has(tokenRevocationId(uti));
  }

  /** Whether a grant is revoked. Memory only. */
  isGrantRevoked(grantId: string): boolean {
    return this.entries.has(grantRevocationId(grantId));
  }

  /** Deletes revocations older than the retention from the store (every token they covered has expired). */
  purge(): Promise<number> {
    return this.store.purge(this.now() - this.retentionSeconds);
  }

  private async load(): Promise<void> {
    const now = this.now();
    const rows = await this.store.listAfter(this.lastVersion, now - this.retentionSeconds);
    for (const row of rows) {
      this.entries.set(row.id, row.revokedAt);
      if (row.version > this.lastVersion) this.lastVersion = row.version;
    }
    if (now - this.lastPruneAt >= PRUNE_INTERVAL_SECONDS) {
      this.lastPruneAt = now;
      for (const [id, at] of this.entries) if (at <= now - this.retentionSeconds) this.entries.delete(id);
    }
  }
}
