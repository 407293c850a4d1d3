import { isAppOnlyToken, rolesOf, scopesOf, type AccessTokenClaims } from '../claims.js';
import { BearerTokenError } from '../errors.js';
import { assertScopeTokens, hasAny } from './scopes.js';

/** What {@link requireScopesOrAppRoles} accepts. */
export interface ScopesOrAppRoles {
  /** Delegated scopes, any one of which lets a user token in. */
  readonly scopes: readonly string[];
  /** Application permissions, any one of which lets an app-only token in. */
  readonly roles: readonly string[];
}

/**
 * An endpoint usable both by users (delegated token with one of `scopes`) and by daemons (app-only token with
 * one of `roles`), as Microsoft.Identity.Web's `RequiredScopeOrAppPermission`.
 *
 * @throws BearerTokenError `insufficient_scope` (403) with `scope` = the scopes then the roles.
 * @throws TypeError for an empty list or a value that is not a scope token.
 */
export function requireScopesOrAppRoles(claims: AccessTokenClaims, accepted: ScopesOrAppRoles): void {
  assertScopeTokens(accepted.scopes, 'scopes');
  assertScopeTokens(accepted.roles, 'roles');
  const allowed = isAppOnlyToken(claims)
    ? hasAny(rolesOf(claims), accepted.roles)
    : hasAny(scopesOf(claims), accepted.scopes);
  if (allowed) return;
  throw new BearerTokenError('insufficient_scope', {
    scope: [...accepted.scopes, ...accepted.roles].join(' '),
    detail: 'neither an accepted scope nor an accepted application permission',
  });
}
