import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';

/** Seconds browsers may cache a token endpoint preflight. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

const TOKEN_PATH = /^\/[^/]+\/oauth2\/v2\.0\/token(?:\?|$)/;

/**
 * CORS for the token endpoint, only for origins of registered `spa` redirect URIs: preflights (`OPTIONS`) are
 * answered for any such origin; responses — errors included — carry `Access-Control-Allow-Origin` when the
 * origin belongs to the requesting client's `spa` redirect URIs (or, before a client is known, to any app's).
 * No credentials mode: the token endpoint uses no cookies.
 */
export function registerTokenCors(app: FastifyInstance, context: ServerContext): void {
  app.options('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && (await context.cache.spaOrigins()).has(origin)) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header(
          'access-control-allow-headers',
          request.headers['access-control-request-headers'] ?? 'content-type',
        )
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS))
        .header('vary', 'Origin');
    }
    return reply.status(204).send();
  });
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const origin = request.headers.origin;
    if (origin === undefined || request.method !== 'POST' || !TOKEN_PATH.test(request.url)) return payload;
    if (await originAllowed(context, request, origin)) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', 'client-request-id')
        .header('vary', 'Origin');
    }
    return payload;
  });
}

async function originAllowed(
  context: ServerContext,
  request: FastifyRequest,
  origin: string,
): Promise<boolean> {
  const clientId = (request.body as Record<string, unknown> | undefined)?.client_id;
  if (typeof clientId === 'string') {
    const application = await context.cache.application(clientId).catch(() => undefined);
    if (application !== undefined) {
      return application.spa.redirectUris.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin);
    }
  }
  return (await context.cache.spaOrigins()).has(origin);
}
