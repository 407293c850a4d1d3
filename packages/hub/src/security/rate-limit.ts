/** Invocation rate limit of one connection: a token bucket. */
export interface RateLimit {
  /** Sustained invocations per second. */
  readonly perSecond: number;
  /** Invocations allowed in a burst. */
  readonly burst: number;
}

/** A token bucket refilled continuously at `perSecond`, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private updatedAtMs = Date.now();

  constructor(private readonly limit: RateLimit) {
    this.tokens = limit.burst;
  }

  /** Takes one token; `false` when the bucket is empty. */
  take(nowMs = Date.now()): boolean {
    this.tokens = Math.min(
      this.limit.burst,
      this.tokens + ((nowMs - this.updatedAtMs) / 1000) * this.limit.perSecond,
    );
    this.updatedAtMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
