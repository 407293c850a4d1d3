import { createHash } from 'node:crypto';

/** A cached downstream token. */
export interface CachedToken {
  readonly accessToken: string;
  readonly expiresOn: Date;
  readonly scopes: readonly string[];
}

/** Options of {@link OboTokenCache}. */
export interface OboTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 10000. */
  readonly maxEntries?: number;
  /**
   * A token is not served when it expires within this many seconds (it is re-acquired instead). Default 300,
   * MSAL's `tokenRenewalOffsetSeconds`.
   */
  readonly refreshBeforeExpirySeconds?: number;
  /** Current time in milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The On-Behalf-Of token cache: downstream tokens keyed by SHA-256 of the incoming (caller's) token plus the
 * sorted requested scopes, honouring expiry, bounded in size (LRU).
 *
 * Why our own rather than MSAL's: MSAL keeps OBO results in its in-memory token cache keyed by the assertion
 * hash too, but that cache is unbounded and never evicts. A middle-tier API sees a new incoming token per user
 * per hour, so memory grows for as long as the process lives. Microsoft.Identity.Web solves it the same way, with
 * a size-limited memory cache in front of MSAL. The key never holds the incoming token itself, only its hash.
 */
export class OboTokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private readonly maxEntries: number;
  private readonly marginMs: number;
  private readonly now: () => number;

  constructor(options: OboTokenCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.marginMs = (options.refreshBeforeExpirySeconds ?? 300) * 1000;
    this.now = options.now ?? Date.now;
    if (!(this.maxEntries >= 1) || !(this.marginMs >= 0)) {
      throw new TypeError('"maxEntries" must be at least 1 and "refreshBeforeExpirySeconds" non-negative.');
    }
  }

  /** The cache key of an incoming token and scopes: `sha256(token)` hex, a space, the sorted distinct scopes. */
  static keyOf(incomingToken: string, scopes: readonly string[]): string {
    const hash = createHash('sha256').update(incomingToken).digest('hex');
    return `${hash} ${[...new Set(scopes)].sort().join(' ')}`;
  }

  /** The entry for `key` if it is still valid beyond the refresh margin; marks it recently used. */
  get(key: string): CachedToken | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresOn.getTime() - this.marginMs <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, token: CachedToken): void {
    this.entries.delete(key);
    this.entries.set(key, token);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Entries currently held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.entries.size;
  }
}
