/**
 * Counts failed sign-ins per key (an account name or a client IP) over a window and blocks a key that reached its
 * limit until the window passes. Implementations: {@link InMemorySignInThrottle} (one node); a shared store
 * (Redis) is needed for several nodes to share counts.
 */
export interface SignInThrottle {
  /** True when `key` reached `limit` failures within the window. */
  isBlocked(key: string, limit: number, nowMs: number): Promise<boolean>;
  /** Records one failure of `key`. */
  recordFailure(key: string, nowMs: number): Promise<void>;
  /** Forgets the failures of `key` (after a successful sign-in). */
  reset(key: string): Promise<void>;
}

/** Most keys tracked at once; the oldest are dropped first, bounding memory under a spray of names. */
const MAX_KEYS = 100_000;

/** A {@link SignInThrottle} in this process's memory: a fixed window per key. */
export class InMemorySignInThrottle implements SignInThrottle {
  private readonly windows = new Map<string, { startedAtMs: number; failures: number }>();

  /** @param windowMs length of the counting window and of a lockout, in milliseconds. */
  constructor(private readonly windowMs: number) {}

  isBlocked(key: string, limit: number, nowMs: number): Promise<boolean> {
    const entry = this.current(key, nowMs);
    return Promise.resolve(entry !== undefined && entry.failures >= limit);
  }

  recordFailure(key: string, nowMs: number): Promise<void> {
    const entry = this.current(key, nowMs);
    if (entry === undefined) {
      if (this.windows.size >= MAX_KEYS) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      this.windows.set(key, { startedAtMs: nowMs, failures: 1 });
    } else {
      entry.failures += 1;
    }
    return Promise.resolve();
  }

  reset(key: string): Promise<void> {
    this.windows.delete(key);
    return Promise.resolve();
  }

  private current(key: string, nowMs: number): { startedAtMs: number; failures: number } | undefined {
    const entry = this.windows.get(key);
    if (entry !== undefined && nowMs - entry.startedAtMs >= this.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return entry;
  }
}
