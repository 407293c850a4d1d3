import { decodeJwt } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';

/** Seconds browsers may cache a preflight. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Request headers a preflight may ask for: header names and commas, nothing else is echoed. */
const REQUEST_HEADERS = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/** Response headers a spa may read besides the CORS-safelisted ones (`dpop-nonce`: RFC 9449 §8). */
const EXPOSED_HEADERS = 'client-request-id, www-authenticate, dpop-nonce';

/** An endpoint a single-page app calls cross-origin, and how to tell which client calls it. */
interface SpaEndpoint {
  /** The Fastify route (`request.routeOptions.url`). */
  readonly url: string;
  /** Methods of the actual requests (preflights are `OPTIONS`). */
  readonly methods: readonly string[];
  /** The calling client's `appId` when the request names one, else undefined. */
  readonly clientOf: (request: FastifyRequest) => string | undefined;
}

/** The client of a form body: `client_id` (token and revocation requests of public clients carry it). */
function bodyClient(request: FastifyRequest): string | undefined {
  const body = request.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const clientId = (body as Record<string, unknown>).client_id;
  return typeof clientId === 'string' ? clientId : undefined;
}

/**
 * The client of a bearer request: `azp` (v2) or `appid` (v1) of the access token. Read without verification: it
 * only chooses which registered origins may read the response, which the endpoint itself still checks.
 */
function bearerClient(request: FastifyRequest): string | undefined {
  const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (token === undefined) return undefined;
  try {
    const claims = decodeJwt(token);
    const client = claims.azp ?? claims.appid;
    return typeof client === 'string' ? client : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The endpoints a browser app calls with `fetch`: token (RFC 6749 §3.2), revocation (RFC 7009, oidc-client-ts
 * `revokeTokens`) and userinfo (OIDC Core §5.3, oidc-client-ts `loadUserInfo`). Discovery and the JWKS are public
 * (`*`, set where they are served); authorize and logout are navigations; introspection is for confidential
 * clients only.
 */
const SPA_ENDPOINTS: readonly SpaEndpoint[] = [
  { url: '/:tenant/oauth2/v2.0/token', methods: ['POST'], clientOf: bodyClient },
  { url: '/:tenant/oauth2/v2.0/revoke', methods: ['POST'], clientOf: bodyClient },
  { url: '/oidc/userinfo', methods: ['GET', 'POST'], clientOf: bearerClient },
];

/**
 * CORS (Fetch Standard §3.2) for the endpoints single-page apps call, only for origins of registered `spa` redirect
 * URIs — never `*`, never another origin, never credentials mode (these endpoints use no cookies):
 * - `OPTIONS` preflights are answered for any registered spa origin (a preflight names no client) with the
 *   endpoint's methods, the requested headers (header names only) and a 600 s `max-age`;
 * - responses, errors included, carry `Access-Control-Allow-Origin: {origin}` (and `Vary: Origin`) when the origin
 *   belongs to the calling client's `spa` redirect URIs — the form's `client_id`, or the bearer token's `azp` —
 *   or, when no known client is named, to any app's.
 */
export function registerSpaCors(app: FastifyInstance, context: ServerContext): void {
  const byRoute = new Map(SPA_ENDPOINTS.map((endpoint) => [endpoint.url, endpoint]));
  for (const endpoint of SPA_ENDPOINTS) {
    app.options(endpoint.url, async (request, reply) => {
      const origin = request.headers.origin;
      if (origin !== undefined && (await context.cache.spaOrigins()).has(origin)) {
        const asked = request.headers['access-control-request-headers'];
        void reply
          .header('access-control-allow-origin', origin)
          .header('access-control-allow-methods', [...endpoint.methods, 'OPTIONS'].join(', '))
          .header(
            'access-control-allow-headers',
            asked !== undefined && REQUEST_HEADERS.test(asked) ? asked : 'content-type',
          )
          .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
      }
      return reply.header('vary', 'Origin').status(204).send();
    });
  }
  // Callback style: no promise per response for the (origin-less) bulk of token requests.
  app.addHook('onSend', (request, reply, payload, done) => {
    const origin = request.headers.origin;
    const endpoint = origin === undefined ? undefined : byRoute.get(request.routeOptions.url ?? '');
    if (origin === undefined || endpoint === undefined || !endpoint.methods.includes(request.method)) {
      done(null, payload);
      return;
    }
    originAllowed(context, endpoint.clientOf(request), origin).then(
      (allowed) => {
        if (allowed) allowOrigin(reply, origin);
        done(null, payload);
      },
      () => {
        done(null, payload);
      },
    );
  });
}

function allowOrigin(reply: FastifyReply, origin: string): void {
  void reply
    .header('access-control-allow-origin', origin)
    .header('access-control-expose-headers', EXPOSED_HEADERS)
    .header('vary', 'Origin');
}

/** True when `origin` is one of `clientId`'s spa redirect URI origins (any app's when no known client is named). */
async function originAllowed(
  context: ServerContext,
  clientId: string | undefined,
  origin: string,
): Promise<boolean> {
  if (clientId !== undefined) {
    const application = await context.cache.application(clientId).catch(() => undefined);
    if (application !== undefined) {
      return application.spa.redirectUris.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin);
    }
  }
  return (await context.cache.spaOrigins()).has(origin);
}
