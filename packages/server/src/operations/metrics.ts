import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: buckets for HTTP requests, from a cached discovery document to an argon2id sign-in. */
const HTTP_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Seconds: buckets for one Redis command or database statement. */
const STORE_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

/**
 * The server's Prometheus metrics (docs/operations.md), in a registry of its own, so several servers in one
 * process never share or collide on a series. Every update is an in-memory counter or histogram bucket: no I/O
 * on any request path; the text format is rendered only when `/metrics` is scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();

  /** Requests answered, by Fastify route pattern (never the raw URL), method, status class and error code. */
  readonly httpRequests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method, status class (2xx…5xx) and OAuth / Graph error code (empty on success).',
    labelNames: ['route', 'method', 'status_class', 'error'] as const,
    registers: [this.registry],
  });

  /** Request duration in seconds, from the first byte read to the last byte handed to the socket. */
  readonly httpRequestDuration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: HTTP_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  /** Token responses (200) of the token endpoint, by `grant_type` (RFC 6749 §4). */
  readonly tokensIssued = new Counter({
    name: 'tessera_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant_type.',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });

  /** Refused sign-ins, by reason (see {@link signInFailureReason}). */
  readonly signInFailures = new Counter({
    name: 'tessera_sign_in_failures_total',
    help: 'Refused sign-ins, by reason: invalid_credentials (unknown user or wrong password), locked_out, disabled, mfa_failed, mfa_replayed, other.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Redis command duration in seconds, by command name, with whether it failed. */
  readonly redisCommandDuration = new Histogram({
    name: 'tessera_redis_command_duration_seconds',
    help: 'Redis command duration in seconds, by command and outcome (ok, error).',
    labelNames: ['command', 'outcome'] as const,
    buckets: STORE_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  /** Database statement duration in seconds, by statement kind (first SQL keyword) and outcome. */
  readonly dbQueryDuration = new Histogram({
    name: 'tessera_db_query_duration_seconds',
    help: 'Database statement duration in seconds, by kind (select, insert, update, delete, with, …) and outcome (ok, error).',
    labelNames: ['kind', 'outcome'] as const,
    buckets: STORE_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  /** Records one database statement; `durationMs` in milliseconds (the store's `onQuery`). */
  queryRan(durationMs: number, kind: string, failed: boolean): void {
    this.dbQueryDuration.observe({ kind, outcome: failed ? 'error' : 'ok' }, durationMs / 1000);
  }

  /** Records a refused sign-in by its catalogue error code. */
  signInFailed(code: number): void {
    this.signInFailures.inc({ reason: signInFailureReason(code) });
  }
}

/** The `reason` label of a sign-in refusal, from the error code the sign-in code threw. */
export function signInFailureReason(code: number): string {
  switch (code) {
    case 50126:
      return 'invalid_credentials';
    case 50053:
      return 'locked_out';
    case 50057:
      return 'disabled';
    case 500121:
      return 'mfa_failed';
    case 9100090:
      return 'mfa_replayed';
    default:
      return 'other';
  }
}
