import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { assertRequirement, type AuthRequirement } from '../authorization/requirement.js';
import { assertChallengeOptions, bearerErrorResponse, type ChallengeOptions } from '../challenge.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { createDpopVerifier, type DpopOptions } from '../validation/dpop.js';
import type { TokenValidator } from '../validation/validator.js';
import { authenticateRequest, dpopHeaderValues } from './bearer.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The validated access token claims, set by the Tessera middleware. */
    auth?: AccessTokenClaims;
  }
}

/** Options of {@link createExpressAuth}. */
export interface ExpressAuthOptions extends ChallengeOptions {
  readonly validator: TokenValidator;
  /** Accept DPoP-bound tokens with `Authorization: DPoP` and a proof (RFC 9449 §7). Default: Bearer only. */
  readonly dpop?: DpopOptions;
}

/**
 * Creates the Express middleware factory: `auth(requirement?)` returns a middleware that validates the bearer
 * token, applies the route's requirement, sets `req.auth`, and otherwise answers the RFC 6750 error response
 * itself. Errors from a custom `check` that are not `BearerTokenError`s go to `next(err)`.
 *
 * The middleware authenticates every request it sees, whatever its method (`OPTIONS` and CORS preflights
 * included): a route that must answer preflights has the `cors` middleware before `auth()`. Import it from
 * `@tessera/resource/express` (the main entry does not load Express types).
 *
 * @example app.get('/reports', auth({ roles: ['Reports.Read.All'] }), (req, res) => res.json(req.auth))
 * @throws TypeError for invalid challenge options; the factory throws for an invalid requirement.
 */
export function createExpressAuth(
  options: ExpressAuthOptions,
): (requirement?: AuthRequirement) => RequestHandler {
  assertChallengeOptions(options);
  const { validator } = options;
  const dpop = options.dpop === undefined ? undefined : createDpopVerifier(options.dpop);
  const challenge: ChallengeOptions = {
    realm: options.realm,
    authorizationUri: options.authorizationUri,
    ...(dpop === undefined ? {} : { dpopAlgorithms: dpop.algorithms, dpopRequired: dpop.required }),
  };
  return (requirement = {}) => {
    assertRequirement(requirement);
    return (request: Request, response: Response, next: NextFunction) => {
      authenticateRequest(
        validator,
        {
          authorization: request.headers.authorization,
          dpop: dpopHeaderValues(request),
          method: request.method,
          url: `${dpop?.publicUrl ?? `${request.protocol}://${request.get('host') ?? 'localhost'}`}${request.originalUrl}`,
        },
        requirement,
        dpop,
      ).then(
        (claims) => {
          request.auth = claims;
          next();
        },
        (error: unknown) => {
          if (!(error instanceof BearerTokenError)) {
            next(error);
            return;
          }
          const answer = bearerErrorResponse(error, challenge);
          response.status(answer.status).set(answer.headers).json(answer.body);
        },
      );
    };
  };
}
