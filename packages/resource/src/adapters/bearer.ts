import { authorize, type AuthRequirement } from '../authorization/requirement.js';
import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import type { TokenValidator } from '../validation/validator.js';

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Extracts the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
 * case-insensitive, RFC 7235 §2.1). Only the header is read: tokens in URI query parameters end up in logs and
 * are not accepted (RFC 6750 §2.3, §5.3).
 *
 * @throws BearerTokenError `token_missing` (no header, or another scheme such as `Basic`), `request_malformed`
 *   (`Bearer` without a token, several headers, or a value that is not `b64token` syntax).
 */
export function bearerTokenOf(authorization: string | readonly string[] | undefined): string {
  if (authorization === undefined || authorization === '') throw new BearerTokenError('token_missing');
  if (typeof authorization !== 'string') {
    throw new BearerTokenError('request_malformed', { detail: 'several Authorization headers' });
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer')
    throw new BearerTokenError('token_missing', { detail: 'not Bearer' });
  const token = space === -1 ? '' : authorization.slice(space + 1).trim();
  if (!B64TOKEN.test(token)) throw new BearerTokenError('request_malformed', { detail: 'not a b64token' });
  return token;
}

/**
 * What every adapter does: read the bearer token, validate it, apply the route's requirement.
 *
 * @returns the validated claims.
 * @throws BearerTokenError for every refusal; other errors only from a requirement's custom `check`.
 */
export async function authenticateBearer(
  validator: TokenValidator,
  authorization: string | readonly string[] | undefined,
  requirement: AuthRequirement | undefined,
): Promise<AccessTokenClaims> {
  const claims = await validator.validate(bearerTokenOf(authorization));
  if (requirement !== undefined) await authorize(claims, requirement);
  return claims;
}
