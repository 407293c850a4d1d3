import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { assertRequirement, type AuthRequirement } from '../authorization/requirement.js';
import { assertChallengeOptions, bearerErrorResponse, type ChallengeOptions } from '../challenge.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import type { TokenValidator } from '../validation/validator.js';
import { authenticateBearer } from './bearer.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The validated access token claims, set by the Tessera middleware. */
    auth?: AccessTokenClaims;
  }
}

/** Options of {@link createExpressAuth}. */
export interface ExpressAuthOptions extends ChallengeOptions {
  readonly validator: TokenValidator;
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
  const challenge: ChallengeOptions = { realm: options.realm, authorizationUri: options.authorizationUri };
  return (requirement = {}) => {
    assertRequirement(requirement);
    return (request: Request, response: Response, next: NextFunction) => {
      authenticateBearer(validator, request.headers.authorization, requirement).then(
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
