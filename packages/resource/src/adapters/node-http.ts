import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertRequirement, type AuthRequirement } from '../authorization/requirement.js';
import { assertChallengeOptions, bearerErrorResponse, type ChallengeOptions } from '../challenge.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { createDpopVerifier, type DpopOptions } from '../validation/dpop.js';
import type { TokenValidator } from '../validation/validator.js';
import { authenticateRequest, dpopHeaderValues } from './bearer.js';

/** Options of {@link createNodeAuthenticator}. */
export interface NodeAuthenticatorOptions extends ChallengeOptions {
  readonly validator: TokenValidator;
  /** Accept DPoP-bound tokens with `Authorization: DPoP` and a proof (RFC 9449 §7). Default: Bearer only. */
  readonly dpop?: DpopOptions;
}

/** A handler that runs only for authenticated, authorized requests. */
export type AuthenticatedHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  claims: AccessTokenClaims,
) => void | Promise<void>;

/** The `node:http` adapter. */
export interface NodeAuthenticator {
  /**
   * Authenticates a request. On refusal it writes the complete error response (status, `WWW-Authenticate`,
   * JSON body) and resolves `undefined`; the caller must then stop.
   *
   * @param requirement default: any valid access token.
   */
  authenticate(
    request: IncomingMessage,
    response: ServerResponse,
    requirement?: AuthRequirement,
  ): Promise<AccessTokenClaims | undefined>;
  /** Wraps a handler so that it only runs with valid claims satisfying `requirement`. */
  protect(
    requirement: AuthRequirement,
    handler: AuthenticatedHandler,
  ): (request: IncomingMessage, response: ServerResponse) => Promise<void>;
}

/**
 * Creates the `node:http` adapter. An error thrown by a custom `check` that is not a `BearerTokenError` answers
 * 500 `{ "error": "server_error" }` without detail. Every request is authenticated, whatever its method or
 * headers (`OPTIONS` and CORS preflights included). Import it from `@tessera/resource/node-http`.
 *
 * @throws TypeError for invalid challenge options.
 */
export function createNodeAuthenticator(options: NodeAuthenticatorOptions): NodeAuthenticator {
  assertChallengeOptions(options);
  const { validator } = options;
  const dpop = options.dpop === undefined ? undefined : createDpopVerifier(options.dpop);
  const challenge: ChallengeOptions = {
    realm: options.realm,
    authorizationUri: options.authorizationUri,
    ...(dpop === undefined ? {} : { dpopAlgorithms: dpop.algorithms, dpopRequired: dpop.required }),
  };
  const base = (request: IncomingMessage): string =>
    dpop?.publicUrl ??
    `${'encrypted' in request.socket && request.socket.encrypted ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}`;

  const authenticate = async (
    request: IncomingMessage,
    response: ServerResponse,
    requirement?: AuthRequirement,
  ): Promise<AccessTokenClaims | undefined> => {
    try {
      return await authenticateRequest(
        validator,
        {
          authorization: request.headers.authorization,
          dpop: dpopHeaderValues(request),
          method: request.method ?? 'GET',
          url: `${base(request)}${request.url ?? '/'}`,
        },
        requirement,
        dpop,
      );
    } catch (error) {
      if (error instanceof BearerTokenError) {
        const answer = bearerErrorResponse(error, challenge);
        response.writeHead(answer.status, { ...answer.headers, 'content-type': 'application/json' });
        response.end(JSON.stringify(answer.body));
      } else {
        response.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        response.end(JSON.stringify({ error: 'server_error' }));
      }
      return undefined;
    }
  };

  return {
    authenticate,
    protect(requirement, handler) {
      assertRequirement(requirement);
      return async (request, response) => {
        const claims = await authenticate(request, response, requirement);
        if (claims !== undefined) await handler(request, response, claims);
      };
    },
  };
}
