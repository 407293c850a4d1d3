import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { IdentityError } from '@tessera/protocol';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { ServerContext } from './context.js';
import { registerAdminConsentEndpoint } from './endpoints/admin-consent/index.js';
import { registerAuthorizationEndpoint } from './endpoints/authorize/index.js';
import { registerDiscoveryEndpoints } from './endpoints/discovery.js';
import { registerIntrospectionEndpoint } from './endpoints/introspection.js';
import { registerInteractionEndpoint } from './endpoints/interaction/index.js';
import { registerEndSessionEndpoints } from './endpoints/logout.js';
import { resumeTargets } from './endpoints/resume-targets.js';
import { registerRevocationEndpoint } from './endpoints/revocation.js';
import { registerUserinfoEndpoint } from './endpoints/userinfo.js';
import { registerUiAssets } from './endpoints/ui-assets.js';
import { registerTokenEndpoint } from './endpoints/token.js';
import { TENANT_SEGMENT_MAX_CHARS } from './directory/tenant-segment.js';
import { sendFrameworkError, sendIdentityError, writeConnectionError } from './http/errors.js';
import { registerSpaCors } from './http/spa-cors.js';
import { isManagementUrl, registerManagementApi, sendManagementFrameworkError } from './management/index.js';
import { registerOperations, type OperationsOptions } from './operations/endpoints.js';

/** Largest request body accepted, in bytes. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Log paths redacted at every level: credentials, tokens and assertions never reach the logs. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'req.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers.dpop',
  'res.headers["set-cookie"]',
  'body',
  '*.client_secret',
  '*.client_assertion',
  '*.assertion',
  '*.password',
  '*.access_token',
  '*.refresh_token',
  '*.code',
  '*.code_verifier',
  '*.id_token',
  '*.id_token_hint',
];

/** The server's logger: pino at `level`, with {@link REDACTED_LOG_PATHS} censored. */
export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } });
}

/** One method and URL pattern the HTTP app answers (Fastify syntax: `/:tenant/oauth2/v2.0/token`). */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

const routeTables = new WeakMap<FastifyInstance, readonly RegisteredRoute[]>();

/**
 * Every route of an app built by {@link buildHttpApp}, in registration order (HEAD routes Fastify adds for GET
 * included): what the robustness tests enumerate, so a new endpoint is covered without being listed.
 */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routeTables.get(app) ?? [];
}

/**
 * The configured `trustProxy` as Fastify takes it: a hop count `n` believes the `n` nearest addresses of
 * `X-Forwarded-For` (Fastify's own hop-count rule, which its types do not declare).
 */
function fastifyTrustProxy(
  trustProxy: boolean | number | readonly string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return typeof trustProxy === 'boolean' ? trustProxy : [...trustProxy];
}

/** HTTP server options of {@link buildHttpApp}. */
export interface HttpAppOptions {
  /** TLS key and certificate chain (PEM); plain HTTP when absent. */
  readonly https?: { key: string | Buffer; cert: string | Buffer };
  /** The logger (see {@link createLogger}). */
  readonly logger: Logger;
  /** Health, readiness, metrics and tracing (`/healthz`, `/readyz`, `/metrics`); none of them when absent. */
  readonly operations?: OperationsOptions;
}

/**
 * Builds the Fastify application with every endpoint, the shared error handler and security headers.
 * Request logging is off (one line per error instead): access logs would cost throughput on the token hot path.
 */
export function buildHttpApp(context: ServerContext, options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    // Node answers a missing Host itself (400, empty body); the request is let through and refused below instead.
    ...(options.https === undefined
      ? { http: { requireHostHeader: false } }
      : { https: { ...options.https, requireHostHeader: false } }),
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    // No per-request child logger: request logging is off, and error lines carry the trace id explicitly.
    childLoggerFactory: (logger) => logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Every route parameter is a `{tenant}` segment; a verified domain may be a full 253-character DNS name.
    routerOptions: { maxParamLength: TENANT_SEGMENT_MAX_CHARS },
    return503OnClosing: true,
    // On close, idle keep-alive connections are closed at once; busy ones finish their request (graceful drain).
    forceCloseConnections: 'idle',
    // request.ip (per-IP sign-in throttling, audit logs) reads X-Forwarded-For only from configured proxies.
    trustProxy: fastifyTrustProxy(context.config.trustProxy),
    // Errors raised before routing (bad URL encoding, over-long segment) and by the HTTP parser (headers too
    // large, malformed request line) answer in the catalogue body too (Graph's under /v1.0), never in Fastify's own.
    frameworkErrors: (error, request, reply) =>
      void (isManagementUrl(request.url)
        ? sendManagementFrameworkError(context, request, reply, error)
        : sendFrameworkError(request, reply, error)),
    clientErrorHandler: (error, socket) => {
      writeConnectionError(error, socket, context.config.errorCodePrefix);
    },
  }) as unknown as FastifyInstance;

  app.decorate('errorCodePrefix', context.config.errorCodePrefix);
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  routeTables.set(app, routes);
  void app.register(formbody);
  void app.register(cookie);
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is malformed; it answers in the catalogue body.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.host !== undefined || request.raw.httpVersion !== '1.1') {
      done();
      return;
    }
    void sendIdentityError(
      request,
      reply,
      new IdentityError(9100009, { reason: 'an HTTP/1.1 request must carry a Host header.' }),
    );
  });
  // Callback style: an async hook costs a promise per response on the token hot path.
  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    done(null, payload);
  });
  if (options.operations !== undefined) registerOperations(app, options.operations);
  app.setErrorHandler((error, request, reply) => sendIdentityError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendIdentityError(
      request,
      reply,
      new IdentityError(9100010, {
        method: request.method,
        path: request.url.split('?')[0]?.slice(0, 200) ?? '',
      }),
    ),
  );
  registerSpaCors(app, context);
  registerDiscoveryEndpoints(app, context);
  registerTokenEndpoint(app, context);
  registerAuthorizationEndpoint(app, context);
  registerAdminConsentEndpoint(app, context);
  registerInteractionEndpoint(app, context, resumeTargets);
  registerUserinfoEndpoint(app, context);
  registerEndSessionEndpoints(app, context);
  registerRevocationEndpoint(app, context);
  registerIntrospectionEndpoint(app, context);
  registerUiAssets(app);
  registerManagementApi(app, context);
  return app;
}
