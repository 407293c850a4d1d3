import { isAppOnlyToken, rolesOf, type AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { assertScopeTokens, hasAny } from './scopes.js';

/**
 * Requires an app-only token (`idtyp=app`, client credentials) whose `roles` contain at least one of
 * `acceptedRoles`: the application permissions an admin granted to the caller (`docs/resource.md`,
 * "Authorization"). User tokens never satisfy it, even when they carry `roles` (those are the user's app roles, not
 * permissions of the calling application).
 *
 * @throws BearerTokenError `insufficient_scope` (403) with `scope` = the accepted roles.
 * @throws TypeError for an empty list or a value that is not a scope token.
 */
export function requireAppRoles(claims: AccessTokenClaims, acceptedRoles: readonly string[]): void {
  assertScopeTokens(acceptedRoles, 'acceptedRoles');
  if (isAppOnlyToken(claims) && hasAny(rolesOf(claims), acceptedRoles)) return;
  throw new BearerTokenError('insufficient_scope', {
    scope: acceptedRoles.join(' '),
    detail: 'no accepted application permission',
  });
}
