import type { IncomingMessage } from 'node:http';
import type { AccessTokenClaims, TokenValidator } from '@tessera/resource';
import { authenticateBearer, BearerTokenError } from '@tessera/resource';

/** How the hub authenticates requests. */
export interface HubAuthenticationOptions {
  /** Validates bearer access tokens (`createTokenValidator` from `@tessera/resource`). */
  readonly validator: TokenValidator;
  /**
   * The user id that `clients.user(id)` targets and `context.userIdentifier` returns. Default `oid`, else `sub`.
   */
  readonly userIdentifier?: (claims: AccessTokenClaims) => string | undefined;
  /**
   * Optional cookie authentication: resolves the claims of a cookie session, or `undefined`. Only accepted with a
   * non-empty `allowedOrigins`, and a cookie-authenticated negotiate or WebSocket upgrade must come from the page's
   * own origin or a listed one (CSRF).
   */
  readonly cookie?: (request: IncomingMessage) => Promise<AccessTokenClaims | undefined>;
}

/** Who made a request. */
export type RequestIdentity =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly claims: AccessTokenClaims; readonly via: 'bearer' | 'cookie' }
  | { readonly kind: 'refused'; readonly error: BearerTokenError };

/**
 * Authenticates a request: `Authorization: Bearer`, or — only where `allowQueryToken` (WebSocket upgrades and SSE,
 * which browsers cannot give headers) — the `access_token` query parameter; then the cookie hook. A present but
 * invalid token is refused, never treated as anonymous.
 */
export async function authenticateRequest(
  request: IncomingMessage,
  query: URLSearchParams,
  allowQueryToken: boolean,
  options: HubAuthenticationOptions | undefined,
): Promise<RequestIdentity> {
  const header = request.headers.authorization;
  const queryToken = allowQueryToken ? query.get('access_token') : null;
  if (options === undefined) {
    return header !== undefined || queryToken !== null
      ? { kind: 'refused', error: new BearerTokenError('token_missing', { detail: 'no validator' }) }
      : { kind: 'anonymous' };
  }
  try {
    // Bearer tokens only, as SignalR sends them: a DPoP-bound token is refused (RFC 9449 §7.2), because no
    // SignalR transport can carry the proof that would make it usable.
    if (header !== undefined) {
      const claims = await authenticateBearer(options.validator, header, undefined);
      return { kind: 'user', claims, via: 'bearer' };
    }
    if (queryToken !== null) {
      const claims = await authenticateBearer(options.validator, `Bearer ${queryToken}`, undefined);
      return { kind: 'user', claims, via: 'bearer' };
    }
  } catch (error) {
    if (error instanceof BearerTokenError) return { kind: 'refused', error };
    throw error;
  }
  if (options.cookie !== undefined) {
    const claims = await options.cookie(request);
    if (claims !== undefined) return { kind: 'user', claims, via: 'cookie' };
  }
  return { kind: 'anonymous' };
}

/**
 * The identity a connection token is bound to: tenant and object id (stable across the user's tokens for
 * different clients), else issuer and subject.
 */
export function bindingKeyOf(claims: AccessTokenClaims): string {
  return claims.oid !== undefined ? `${claims.tid}|${claims.oid}` : `${claims.iss}|${claims.sub}`;
}

/** Default user identifier: `oid`, else `sub`. */
export function defaultUserIdentifier(claims: AccessTokenClaims): string | undefined {
  return claims.oid ?? claims.sub;
}
