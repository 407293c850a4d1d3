import { createHash } from 'node:crypto';

/**
 * Counts failed sign-ins per key (an account name or a client IP) over a window and blocks a key that reached its
 * limit until the window passes. Implementations: {@link InMemorySignInThrottle} (one node) and
 * {@link RedisSignInThrottle} (shared by every node when `REDIS_URL` is set).
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

/** The part of an ioredis client {@link RedisSignInThrottle} uses. */
export interface RedisThrottleClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<unknown>;
  incr(key: string): Promise<number>;
  del(key: string): Promise<number>;
}

/**
 * A {@link SignInThrottle} shared by every node through Redis: a fixed window per key (`SET … PX window NX`, then
 * `INCR`), so a lockout earned on one node holds on all. Keys are stored as SHA-256 hashes (no account names in
 * Redis). If Redis cannot be reached, checks fail open (a failed check counts as not blocked) and `onError` is
 * called: sign-in stays available and each guess still costs a full argon2id verification.
 */
export class RedisSignInThrottle implements SignInThrottle {
  /**
   * @param windowMs length of the counting window and of a lockout, in milliseconds.
   * @param onError told of every Redis failure (for logs).
   */
  constructor(
    private readonly redis: RedisThrottleClient,
    private readonly windowMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  async isBlocked(key: string, limit: number, _nowMs?: number): Promise<boolean> {
    try {
      const failures = await this.redis.get(redisKey(key));
      return failures !== null && Number(failures) >= limit;
    } catch (error) {
      this.onError(error);
      return false;
    }
  }

  async recordFailure(key: string, _nowMs?: number): Promise<void> {
    // Redis keeps the window's clock (PX); the caller's time is not needed.
    const k = redisKey(key);
    try {
      await this.redis.set(k, '0', 'PX', this.windowMs, 'NX');
      await this.redis.incr(k);
    } catch (error) {
      this.onError(error);
    }
  }

  async reset(key: string): Promise<void> {
    try {
      await this.redis.del(redisKey(key));
    } catch (error) {
      this.onError(error);
    }
  }
}

function redisKey(key: string): string {
  return `tessera:sign-in-failures:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}
