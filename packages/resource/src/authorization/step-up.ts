import type { AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';

/**
 * The claims request of a step-up challenge for an authentication context (`acrs`), as the Microsoft identity
 * platform's conditional access auth contexts use it: `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`.
 *
 * @see Microsoft identity platform `claims-challenge.md`, OIDC Core §5.5 (claims request parameter)
 */
export function authenticationContextClaims(acrsValue: string): string {
  return JSON.stringify({ access_token: { acrs: { essential: true, value: acrsValue } } });
}

/**
 * Encodes a claims request (JSON text, or an object to serialise) for the `claims` attribute of a challenge:
 * standard base64 with padding, as the platform and MSAL clients exchange it.
 */
export function encodeClaimsChallenge(claimsRequest: string | object): string {
  const json = typeof claimsRequest === 'string' ? claimsRequest : JSON.stringify(claimsRequest);
  return Buffer.from(json, 'utf8').toString('base64');
}

/**
 * An `insufficient_claims` refusal carrying a claims challenge: the adapters answer 401 with
 * `WWW-Authenticate: Bearer realm="…", error="insufficient_claims", error_description="…", claims="<base64>"`, and a
 * client (MSAL) sends the decoded `claims` back to `/authorize` to obtain a token that satisfies it.
 *
 * @param claimsRequest JSON text or an object, e.g. `authenticationContextClaims('c1')`.
 */
export function insufficientClaims(claimsRequest: string | object, description?: string): BearerTokenError {
  return new BearerTokenError('insufficient_claims', {
    claims: encodeClaimsChallenge(claimsRequest),
    ...(description === undefined ? {} : { description }),
  });
}

/**
 * Requires that the token's `acrs` claim lists `acrsValue` (an authentication context such as `c1`, e.g. "MFA in
 * the last hour"), else refuses with a claims challenge asking for it.
 *
 * @throws BearerTokenError `insufficient_claims` (401) with `claims` = base64 of
 *   {@link authenticationContextClaims}.
 */
export function requireAuthenticationContext(claims: AccessTokenClaims, acrsValue: string): void {
  if (Array.isArray(claims.acrs) && claims.acrs.includes(acrsValue)) return;
  throw insufficientClaims(authenticationContextClaims(acrsValue));
}
