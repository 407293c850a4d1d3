import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { assertRequirement, type AuthRequirement } from '../authorization/requirement.js';
import { assertChallengeOptions, bearerErrorResponse, type ChallengeOptions } from '../challenge.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { createDpopVerifier, type DpopOptions } from '../validation/dpop.js';
import type { TokenValidator } from '../validation/validator.js';
import { authenticateRequest, dpopHeaderValues } from './bearer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated access token claims; `null` on routes with `config.auth: false`. */
    auth: AccessTokenClaims | null;
  }
  interface FastifyContextConfig {
    /**
     * What the route requires: an {@link AuthRequirement} (`{}` = any valid token), or `false` for a public
     * route. Default: the plugin's `defaultRequirement`.
     */
    auth?: AuthRequirement | false;
  }
}

/** Options of {@link tesseraAuth}. */
export interface FastifyAuthOptions extends ChallengeOptions {
  readonly validator: TokenValidator;
  /**
   * Applied to routes without `config.auth` (and to unmatched routes). Default `{}`: every route needs a valid
   * access token unless it opts out with `config: { auth: false }` (secure by default).
   */
  readonly defaultRequirement?: AuthRequirement | false;
  /** Accept DPoP-bound tokens with `Authorization: DPoP` and a proof (RFC 9449 §7). Default: Bearer only. */
  readonly dpop?: DpopOptions;
}

const plugin: FastifyPluginAsync<FastifyAuthOptions> = (fastify: FastifyInstance, options) => {
  assertChallengeOptions(options);
  const { validator } = options;
  const dpop = options.dpop === undefined ? undefined : createDpopVerifier(options.dpop);
  const challenge: ChallengeOptions = {
    realm: options.realm,
    authorizationUri: options.authorizationUri,
    ...(dpop === undefined ? {} : { dpopAlgorithms: dpop.algorithms, dpopRequired: dpop.required }),
  };
  const defaultRequirement = options.defaultRequirement ?? {};
  if (defaultRequirement !== false) assertRequirement(defaultRequirement);

  fastify.decorateRequest('auth', null);
  fastify.addHook('onRoute', (route) => {
    const requirement = route.config?.auth;
    if (requirement !== undefined && requirement !== false) assertRequirement(requirement);
  });
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // No method and no header exempts a request: a CORS preflight reaching this hook is authenticated like any
    // other request (it carries no credentials, so it is refused), and never reaches a protected handler.
    const requirement = request.routeOptions.config.auth ?? defaultRequirement;
    if (requirement === false) return;
    try {
      request.auth = await authenticateRequest(
        validator,
        {
          authorization: request.headers.authorization,
          dpop: dpopHeaderValues(request.raw),
          method: request.method,
          url: `${dpop?.publicUrl ?? `${request.protocol}://${request.host}`}${request.url}`,
        },
        requirement,
        dpop,
      );
    } catch (error) {
      if (!(error instanceof BearerTokenError)) throw error;
      const answer = bearerErrorResponse(error, challenge);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    }
  });
  return Promise.resolve();
};

/**
 * The Fastify plugin (wrapped with fastify-plugin, so its hook covers the routes of the scope it is registered
 * in). Decorates `request.auth` with the validated claims; route-level requirements go in `config.auth`.
 * Refusals are answered from the `onRequest` hook, before body parsing.
 * Errors from a custom `check` that are not `BearerTokenError`s go to Fastify's error handler.
 *
 * Every request of a protected route is authenticated, whatever its method or headers: `OPTIONS` (CORS preflights
 * included), `HEAD`, and the methods of `app.all()`. CORS is left to `@fastify/cors`: register it before this plugin
 * (in the same scope or a parent one), so that its `onRequest` hook answers preflights before this one runs and no
 * handler is reached (Fetch standard, CORS protocol: a preflight never carries credentials).
 *
 * Import it from `@tessera/resource/fastify` (the main entry does not load Fastify).
 *
 * @example
 * await app.register(cors, { origin: ['https://app.contoso.test'] }); // @fastify/cors, first
 * await app.register(tesseraAuth, { validator });
 * app.get('/reports', { config: { auth: { roles: ['Reports.Read.All'] } } }, (req) => req.auth);
 */
export const tesseraAuth = fastifyPlugin(plugin, { fastify: '5.x', name: '@tessera/resource' });
