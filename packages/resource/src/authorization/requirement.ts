import type { AccessTokenClaims } from '../claims.js';
import { requireAcl, type AclEntry } from './acl.js';
import { requireAppRoles } from './app-roles.js';
import { assertScopeTokens, requireScopes } from './scopes.js';
import { requireScopesOrAppRoles } from './scopes-or-app-roles.js';
import { requireAuthenticationContext } from './step-up.js';

/**
 * What a route requires beyond a valid access token; the adapters' per-route option. An empty object means
 * "any valid access token".
 *
 * - `scopes` only: a user token with one of them ({@link requireScopes});
 * - `roles` only: an app-only token with one of them ({@link requireAppRoles});
 * - both: either ({@link requireScopesOrAppRoles});
 * - `acl`: additionally, the caller's appId + issuer must be listed ({@link requireAcl});
 * - `authenticationContext`: additionally, `acrs` must list it, else a claims challenge
 *   ({@link requireAuthenticationContext});
 * - `check`: a last custom check; throw a `BearerTokenError` to refuse with a challenge.
 */
export interface AuthRequirement {
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
  readonly acl?: readonly AclEntry[];
  readonly authenticationContext?: string;
  readonly check?: (claims: AccessTokenClaims) => void | Promise<void>;
}

/**
 * Applies a requirement to validated claims, in the order: ACL, scopes / roles, authentication context, `check`.
 *
 * @throws BearerTokenError `client_not_allowed`, `insufficient_scope`, `insufficient_claims`, or what `check`
 *   throws.
 */
export async function authorize(claims: AccessTokenClaims, requirement: AuthRequirement): Promise<void> {
  if (requirement.acl !== undefined) requireAcl(claims, { allowed: requirement.acl });
  const { scopes, roles } = requirement;
  if (scopes !== undefined && roles !== undefined) requireScopesOrAppRoles(claims, { scopes, roles });
  else if (scopes !== undefined) requireScopes(claims, scopes);
  else if (roles !== undefined) requireAppRoles(claims, roles);
  if (requirement.authenticationContext !== undefined) {
    requireAuthenticationContext(claims, requirement.authenticationContext);
  }
  if (requirement.check !== undefined) await requirement.check(claims);
}

/**
 * Checks a requirement where it is declared (route registration), so that a typo fails at start-up rather than
 * on the first request.
 *
 * @throws TypeError for an empty or invalid scope / role list, an empty ACL, or an invalid context value.
 */
export function assertRequirement(requirement: AuthRequirement): void {
  if (requirement.scopes !== undefined) assertScopeTokens(requirement.scopes, 'scopes');
  if (requirement.roles !== undefined) assertScopeTokens(requirement.roles, 'roles');
  if (requirement.acl?.length === 0) throw new TypeError('"acl" must not be empty.');
  if (requirement.authenticationContext !== undefined) {
    assertScopeTokens([requirement.authenticationContext], 'authenticationContext');
  }
}
