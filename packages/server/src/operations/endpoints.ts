import { timingSafeEqual } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendIdentityError } from '../http/errors.js';
import type { ServerMetrics } from './metrics.js';
import type { RequestTracing } from './tracing.js';

/** How long one readiness check may take before it counts as failed, in milliseconds. */
export const READINESS_CHECK_TIMEOUT_MS = 2000;
/** `Retry-After` of a 503 from `/readyz`, in seconds. */
export const READINESS_RETRY_AFTER_SECONDS = 5;

/** One dependency `/readyz` checks: resolves when it answers, rejects (or times out) when it does not. */
export interface ReadinessCheck {
  /** The check's name in the `/readyz` body (`store`, `redis`, `keys`). */
  readonly name: string;
  readonly check: () => Promise<void>;
}

/** What {@link registerOperations} serves and records. */
export interface OperationsOptions {
  /** The metrics to update and serve at `/metrics`; undefined when `metricsEnabled` is off (no route, no hooks). */
  readonly metrics?: ServerMetrics | undefined;
  /** When set, `/metrics` requires `Authorization: Bearer <this>` (else 401 invalid_token). */
  readonly metricsBearerToken?: string | undefined;
  /** Per-request server spans; undefined when tracing is off. */
  readonly tracing?: RequestTracing | undefined;
  readonly readiness: readonly ReadinessCheck[];
  /** True while the node shuts down: `/readyz` answers 503 so balancers stop sending it requests. */
  readonly draining: () => boolean;
}

/** The grant types the token endpoint serves; any other value is counted as `other` (bounded label values). */
const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:device_code',
]);

/** The OAuth `error` (RFC 6749 §5.2) or Graph `error.code` of an error body, read from its first bytes. */
const ERROR_CODE_PATTERN = /^\{"error":(?:"([a-z_]{1,64})"|\{"code":"([A-Za-z_]{1,64})")/;

const errorCodes = new WeakMap<FastifyRequest, string>();

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

async function withTimeout(check: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function bearerMatches(header: string | undefined, expected: string): boolean {
  const match = /^bearer (.+)$/i.exec(header ?? '');
  if (match?.[1] === undefined) return false;
  const given = Buffer.from(match[1]);
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Registers `GET /healthz` (liveness: no I/O), `GET /readyz` (readiness: each {@link ReadinessCheck} within
 * {@link READINESS_CHECK_TIMEOUT_MS}; 503 with `Retry-After` naming the failed checks, never their error text) and,
 * with metrics on, `GET /metrics` (Prometheus text format 0.0.4) and the hooks that count every request; with
 * tracing on, the hooks that make one server span per request. The three routes log at `warn` only, so probes
 * and scrapes never fill the logs at `info`.
 */
export function registerOperations(app: FastifyInstance, options: OperationsOptions): void {
  const { metrics, tracing } = options;
  if (tracing !== undefined) tracing.register(app, (request) => errorCodes.get(request));
  if (metrics !== undefined) {
    // Callback style, counters only: no promise and no I/O per response on the token hot path.
    app.addHook('onSend', (request, reply, payload, done) => {
      if (reply.statusCode >= 400 && typeof payload === 'string') {
        const match = ERROR_CODE_PATTERN.exec(payload);
        const code = match?.[1] ?? match?.[2];
        if (code !== undefined) errorCodes.set(request, code);
      }
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      metrics.httpRequests.inc({
        route,
        method: request.method,
        status_class: statusClass(status),
        error: errorCodes.get(request) ?? '',
      });
      metrics.httpRequestDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
      if (status === 200 && route.endsWith('/oauth2/v2.0/token')) {
        const grantType = (request.body as { grant_type?: unknown } | undefined)?.grant_type;
        metrics.tokensIssued.inc({
          grant_type: typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : 'other',
        });
      }
      done();
    });
  }

  app.get('/healthz', { logLevel: 'warn' }, (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  );

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    if (options.draining()) {
      return reply
        .status(503)
        .header('retry-after', String(READINESS_RETRY_AFTER_SECONDS))
        .send({ status: 'draining', checks: {} });
    }
    const results = await Promise.all(
      options.readiness.map(
        async ({ name, check }) => [name, await withTimeout(check, READINESS_CHECK_TIMEOUT_MS)] as const,
      ),
    );
    const checks = Object.fromEntries(results.map(([name, ok]) => [name, ok ? 'ok' : 'failed']));
    if (results.every(([, ok]) => ok)) return reply.send({ status: 'ready', checks });
    return reply
      .status(503)
      .header('retry-after', String(READINESS_RETRY_AFTER_SECONDS))
      .send({ status: 'not_ready', checks });
  });

  if (metrics !== undefined) {
    const token = options.metricsBearerToken;
    app.get('/metrics', { logLevel: 'warn' }, async (request: FastifyRequest, reply: FastifyReply) => {
      if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
        void reply.header('www-authenticate', 'Bearer realm="tessera-metrics"');
        return sendIdentityError(request, reply, new IdentityError(9100016));
      }
      const text = await metrics.registry.metrics();
      return reply
        .header('content-type', metrics.registry.contentType)
        .header('cache-control', 'no-store')
        .send(text);
    });
  }
}
