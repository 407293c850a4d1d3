/**
 * Claims of a validated access token, v1.0 or v2.0, and small readers over them.
 *
 * @see `docs/endpoints.md` (access tokens); Microsoft identity platform `access-token-claims-reference.md`
 */

/** Token format version: the `ver` claim. v1.0 uses `appid`, v2.0 uses `azp`. */
export type AccessTokenVersion = '1.0' | '2.0';

/**
 * The verified payload of an access token. Only what the validator guarantees is non-optional; every other
 * claim the token carried is kept as is (index signature).
 */
export interface AccessTokenClaims {
  readonly iss: string;
  /** The API's appId (v2) or the identifier the client asked for (v1: App ID URI or appId). */
  readonly aud: string | readonly string[];
  /** Unix seconds. */
  readonly exp: number;
  /** Unix seconds. */
  readonly iat: number;
  /** Unix seconds. */
  readonly nbf?: number;
  readonly sub: string;
  /** Tenant GUID the token was issued in. */
  readonly tid: string;
  readonly ver: AccessTokenVersion;
  /** Object id of the user, or of the client's service principal for app tokens. */
  readonly oid?: string;
  /** Unique token identifier (the platform's `jti`). */
  readonly uti?: string;
  /** `app` for app-only tokens (client credentials); `user` or absent for delegated tokens. */
  readonly idtyp?: 'app' | 'user';
  /** Delegated scopes, space-separated (user tokens only). */
  readonly scp?: string;
  /** App roles: application permissions on app tokens, user roles on delegated tokens. */
  readonly roles?: readonly string[];
  /** v2.0: client application id. */
  readonly azp?: string;
  /** v2.0: client authentication, `0` public, `1` secret, `2` certificate. */
  readonly azpacr?: '0' | '1' | '2';
  /** v1.0: client application id. */
  readonly appid?: string;
  /** v1.0: client authentication, `0` public, `1` secret, `2` certificate. */
  readonly appidacr?: '0' | '1' | '2';
  /** Authentication context class references satisfied (step-up, `claims` challenges). */
  readonly acrs?: readonly string[];
  readonly [claim: string]: unknown;
}

/** The calling application's id: `azp` (v2.0) or `appid` (v1.0). The validator guarantees one is present. */
export function clientIdOf(claims: AccessTokenClaims): string {
  return (claims.ver === '2.0' ? claims.azp : claims.appid) ?? '';
}

/** True for an app-only token (client credentials): `idtyp` is `app`. */
export function isAppOnlyToken(claims: AccessTokenClaims): boolean {
  return claims.idtyp === 'app';
}

/** The delegated scopes of `scp` (RFC 6749 §3.3: space-delimited, case-sensitive); empty for app tokens. */
export function scopesOf(claims: AccessTokenClaims): string[] {
  return typeof claims.scp === 'string' ? claims.scp.split(' ').filter((value) => value.length > 0) : [];
}

/** The `roles` claim, or an empty list. */
export function rolesOf(claims: AccessTokenClaims): readonly string[] {
  return claims.roles ?? [];
}
