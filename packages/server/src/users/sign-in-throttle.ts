import { createHash, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { SignInAttemptRepository } from '../store/repositories/sign-in-attempts.js';
import type { Database } from '../store/schema.js';

/**
 * One password attempt counted against a throttle key before its verification. Kept (as a failure) when the
 * password is wrong; released when it is right.
 */
export interface ThrottleReservation {
  readonly key: string;
  /** Identifies the counting window the attempt was counted in; `undefined` when nothing was counted. */
  readonly window: string | number | undefined;
}

/**
 * Counts password attempts per key (an account name or a client IP) over a fixed window and blocks a key that
 * reached its limit until the window passes. An attempt is reserved — counted — atomically *before* the password
 * is verified, so parallel attempts cannot all pass one check before any is counted (check-then-act); a
 * successful attempt takes back only its own reservation, so a success never erases failures counted by others.
 *
 * Implementations: {@link DatabaseSignInThrottle} (SQLite / PostgreSQL, shared by every node on the database) and
 * {@link RedisSignInThrottle} (shared through Redis when `REDIS_URL` is set).
 */
export interface SignInThrottle {
  /**
   * Counts one attempt of `key` unless the key already holds `limit` attempts in its window.
   *
   * @param nowMs Unix milliseconds.
   * @returns the reservation, or undefined when the key is locked (nothing counted: verify nothing).
   */
  reserve(key: string, limit: number, nowMs: number): Promise<ThrottleReservation | undefined>;
  /**
   * Counts one attempt against each of `requests`' keys, in order, each as {@link reserve} would; when a key is
   * locked, the attempts counted before it are taken back and nothing stays counted. The database throttle does
   * it all in one transaction (one commit).
   *
   * @param nowMs Unix milliseconds.
   * @returns one reservation per request, in order, or undefined when a key is locked.
   */
  reserveAll(requests: readonly ThrottleRequest[], nowMs: number): Promise<ThrottleReservation[] | undefined>;
  /**
   * Takes back one reservation (its attempt succeeded), only in the window it was counted in; a reservation is
   * taken back at most once.
   */
  release(reservation: ThrottleReservation): Promise<void>;
  /** {@link release} of each of `reservations`; the database throttle does it in one transaction. */
  releaseAll(reservations: readonly ThrottleReservation[]): Promise<void>;
}

/** One key to count an attempt against, and the attempts it may hold per window. */
export interface ThrottleRequest {
  readonly key: string;
  readonly limit: number;
}

/** Reservations already taken back (by identity), so a second release of one is a no-op. */
const released = new WeakSet<ThrottleReservation>();

/** True the first time it is called for a reservation. */
function firstRelease(reservation: ThrottleReservation): boolean {
  if (released.has(reservation)) return false;
  released.add(reservation);
  return true;
}

/**
 * {@link SignInThrottle.reserveAll} as one {@link SignInThrottle.reserve} after another: a locked key (or an
 * error) takes back what was counted before it.
 */
async function reserveInTurn(
  throttle: SignInThrottle,
  requests: readonly ThrottleRequest[],
  nowMs: number,
): Promise<ThrottleReservation[] | undefined> {
  const reservations: ThrottleReservation[] = [];
  let complete = false;
  try {
    for (const { key, limit } of requests) {
      const reservation = await throttle.reserve(key, limit, nowMs);
      if (reservation === undefined) return undefined;
      reservations.push(reservation);
    }
    complete = true;
    return reservations;
  } finally {
    if (!complete) await throttle.releaseAll(reservations);
  }
}

/** A piece of throttle work waiting for its group commit, and its caller's promise. */
interface PendingWork {
  readonly work: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A {@link SignInThrottle} in the database (table `sign_in_attempts`): one conditional upsert per reservation
 * (see {@link SignInAttemptRepository.reserve}), so every node on the same SQLite file or PostgreSQL database
 * shares the counts. A sign-in's reservations (account and IP) are one transaction, its releases another, and on
 * SQLite those of concurrent sign-ins share one commit (see {@link DatabaseSignInThrottle.commit}). Keys are stored as SHA-256 hashes (no account names). Database errors propagate (the
 * sign-in fails rather than going unthrottled).
 */
export class DatabaseSignInThrottle implements SignInThrottle {
  /** SQLite only: work waiting for the next group commit (see {@link commit}). */
  private pending: PendingWork[] = [];

  /** @param windowMs length of the counting window and of a lockout, in milliseconds. */
  constructor(
    private readonly attempts: SignInAttemptRepository,
    private readonly windowMs: number,
  ) {}

  async reserve(key: string, limit: number, nowMs: number): Promise<ThrottleReservation | undefined> {
    return (await this.reserveAll([{ key, limit }], nowMs))?.[0];
  }

  /** One transaction: each key's conditional upsert in order; a locked key takes back the ones before it. */
  reserveAll(
    requests: readonly ThrottleRequest[],
    nowMs: number,
  ): Promise<ThrottleReservation[] | undefined> {
    const hashes = requests.map((request) => hashKey(request.key));
    return this.commit(async (trx) => {
      const windows: number[] = [];
      for (const [index, request] of requests.entries()) {
        const window = await this.attempts.reserve(
          hashes[index] ?? '',
          request.limit,
          this.windowMs,
          nowMs,
          trx,
        );
        if (window === undefined) {
          for (const [counted, start] of windows.entries())
            await this.attempts.release(hashes[counted] ?? '', start, trx);
          return undefined;
        }
        windows.push(window);
      }
      return requests.map((request, index) => ({ key: request.key, window: windows[index] }));
    });
  }

  async release(reservation: ThrottleReservation): Promise<void> {
    await this.releaseAll([reservation]);
  }

  /** One transaction: each reservation's conditional decrement. */
  async releaseAll(reservations: readonly ThrottleReservation[]): Promise<void> {
    const due = reservations.filter(
      (reservation): reservation is ThrottleReservation & { readonly window: number } =>
        typeof reservation.window === 'number' && firstRelease(reservation),
    );
    if (due.length === 0) return;
    await this.commit(async (trx) => {
      for (const reservation of due)
        await this.attempts.release(hashKey(reservation.key), reservation.window, trx);
    });
  }

  /**
   * Runs `work` in a transaction. On SQLite (synchronous = FULL) a commit waits for the disk and blocks the event
   * loop meanwhile: the work asked for in one turn of the event loop — every concurrent sign-in's reservations and
   * releases — runs in one transaction, one after another in arrival order, each with the same conditional
   * statements as alone (group commit, one disk sync for all). Each caller's promise settles only after that
   * commit; a database error fails every caller of the batch (the sign-ins fail rather than go unthrottled). On
   * PostgreSQL each call is its own transaction.
   */
  private commit<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    if (!this.attempts.blockingCommits) return this.attempts.transaction(work);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => void this.commitPending());
    });
  }

  private async commitPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      const results = await this.attempts.transaction(async (trx) => {
        const done: unknown[] = [];
        for (const { work } of batch) done.push(await work(trx));
        return done;
      });
      batch.forEach(({ resolve }, index) => {
        resolve(results[index]);
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }
}

/** The part of an ioredis client {@link RedisSignInThrottle} uses. */
export interface RedisThrottleClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Reserve: one Lua script (atomic in Redis) counts the attempt unless the limit is reached, and gives a new
 * window its expiry in the same step, so a counter never lives without one. `KEYS[1]` the counter (a hash of
 * `n` attempts and `w` window id); `ARGV` limit, window ms, the id for a new window. Returns the window id, or
 * nil when locked.
 */
const RESERVE_SCRIPT = `
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n >= tonumber(ARGV[1]) then
  if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return false
end
if n == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'n', 1, 'w', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return ARGV[3]
end
redis.call('HINCRBY', KEYS[1], 'n', 1)
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('HGET', KEYS[1], 'w')
`;

/** Release: takes back one attempt, only in the window (`ARGV[1]`) it was counted in, never below zero. */
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'w') == ARGV[1] and tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 0
`;

/** What {@link RedisSignInThrottle} does while Redis cannot be reached. */
export interface RedisThrottleFallback {
  /**
   * Where attempts are counted while Redis fails (a {@link DatabaseSignInThrottle}: counts survive and stay shared
   * between nodes). Without one, reservations fail open (the attempt is let through uncounted).
   */
  readonly throttle?: SignInThrottle;
  /** While Redis is down, how long the throttle uses the fallback alone before one attempt tries Redis again (ms). */
  readonly retryAfterMs?: number;
  /** Told when Redis answers again after an outage (for logs). */
  readonly onRecovered?: () => void;
}

/** How long a Redis outage is assumed to last before Redis is tried again, in milliseconds. */
const DEFAULT_RETRY_AFTER_MS = 2000;

/**
 * A {@link SignInThrottle} shared by every node through Redis: a fixed window per key, reserved by one Lua script
 * (check, increment and expiry in one atomic step), so a lockout earned on one node holds on all and no counter
 * outlives its window. Keys are stored as SHA-256 hashes (no account names in Redis).
 *
 * When a Redis call fails (refused, or slower than the client's `commandTimeout`), the throttle counts in
 * `fallback.throttle` — the database — until Redis answers again: it tries Redis once every `retryAfterMs`, and
 * sends everything else straight to the fallback, so an outage costs a sign-in at most one command timeout.
 * Attempts counted in Redis before an outage are not carried over (and the reverse). `onError` is told once per
 * outage (its first failure), `onRecovered` when it ends. Without a fallback, reservations fail open.
 */
export class RedisSignInThrottle implements SignInThrottle {
  /** Unix ms before which Redis is not tried (an outage is in progress); undefined while Redis answers. */
  private retryAt: number | undefined;

  /**
   * @param windowMs length of the counting window and of a lockout, in milliseconds.
   * @param onError told of the first Redis failure of each outage (for logs).
   */
  constructor(
    private readonly redis: RedisThrottleClient,
    private readonly windowMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly fallback: RedisThrottleFallback = {},
  ) {}

  /** Whether the throttle is counting in its fallback (Redis failed and is not due to be tried again). */
  get degraded(): boolean {
    return this.retryAt !== undefined;
  }

  async reserve(key: string, limit: number, nowMs: number): Promise<ThrottleReservation | undefined> {
    // Redis keeps the window's clock (PEXPIRE); the caller's time is only for the fallback.
    if (this.retryAt === undefined || Date.now() >= this.retryAt) {
      try {
        const window = await this.redis.eval(
          RESERVE_SCRIPT,
          1,
          redisKey(key),
          limit,
          this.windowMs,
          randomUUID(),
        );
        this.recovered();
        return typeof window === 'string' ? { key, window } : undefined;
      } catch (error) {
        this.failed(error);
      }
    }
    if (this.fallback.throttle === undefined) return { key, window: undefined };
    return this.fallback.throttle.reserve(key, limit, nowMs);
  }

  /** One {@link reserve} after another (each its own atomic script). */
  reserveAll(
    requests: readonly ThrottleRequest[],
    nowMs: number,
  ): Promise<ThrottleReservation[] | undefined> {
    return reserveInTurn(this, requests, nowMs);
  }

  async releaseAll(reservations: readonly ThrottleReservation[]): Promise<void> {
    await Promise.all(reservations.map((reservation) => this.release(reservation)));
  }

  async release(reservation: ThrottleReservation): Promise<void> {
    if (typeof reservation.window === 'number') {
      await this.fallback.throttle?.release(reservation);
      return;
    }
    if (typeof reservation.window !== 'string' || this.retryAt !== undefined || !firstRelease(reservation))
      return;
    try {
      await this.redis.eval(RELEASE_SCRIPT, 1, redisKey(reservation.key), reservation.window);
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    if (this.retryAt === undefined) this.onError(error);
    this.retryAt = Date.now() + (this.fallback.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  }

  private recovered(): void {
    if (this.retryAt === undefined) return;
    this.retryAt = undefined;
    this.fallback.onRecovered?.();
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function redisKey(key: string): string {
  return `tessera:sign-in-attempts:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}
