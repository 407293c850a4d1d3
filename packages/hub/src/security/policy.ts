import type { AccessTokenClaims } from '@tessera/resource';
import {
  BearerTokenError,
  isAppOnlyToken,
  requireAppRoles,
  requireScopes,
  requireScopesOrAppRoles,
  rolesOf,
} from '@tessera/resource';

/** The caller as policies and hooks see it. */
export interface HubUser {
  readonly connectionId: string;
  /** Validated claims; `undefined` when anonymous. */
  readonly claims: AccessTokenClaims | undefined;
  readonly userIdentifier: string | undefined;
}

/**
 * An authorization policy for a hub or a method. Every listed requirement must hold; within `scopes` and
 * `appRoles`, one value is enough, and when both are given a user token may pass by scope or an app token by role
 * (as `requireScopesOrAppRoles`). Anonymous callers never satisfy a policy.
 */
export interface HubPolicy {
  /** Delegated scopes (`scp`), one of. */
  readonly scopes?: readonly string[];
  /** Application permissions (`roles` of an app-only token), one of. */
  readonly appRoles?: readonly string[];
  /** User roles (`roles` of a delegated token), one of. */
  readonly userRoles?: readonly string[];
  /** A last custom check; `false` or a throw refuses. */
  readonly check?: (user: HubUser) => boolean | Promise<boolean>;
}

/** Whether `user` satisfies `policy` (a throwing `check` counts as refusal). */
export async function satisfiesPolicy(policy: HubPolicy | undefined, user: HubUser): Promise<boolean> {
  if (policy === undefined) return true;
  const { claims } = user;
  if (claims === undefined) return false;
  try {
    const { scopes, appRoles, userRoles } = policy;
    if (scopes !== undefined && appRoles !== undefined)
      requireScopesOrAppRoles(claims, { scopes, roles: appRoles });
    else if (scopes !== undefined) requireScopes(claims, scopes);
    else if (appRoles !== undefined) requireAppRoles(claims, appRoles);
    if (userRoles !== undefined) {
      if (isAppOnlyToken(claims)) return false;
      const roles = rolesOf(claims);
      if (!userRoles.some((role) => roles.includes(role))) return false;
    }
    return policy.check === undefined ? true : await policy.check(user);
  } catch (error) {
    if (error instanceof BearerTokenError) return false;
    return false;
  }
}
