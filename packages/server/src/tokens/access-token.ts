import type { AppAccessTokenClaims } from '@tessera/protocol';
import type { Application, ServicePrincipal } from '../directory/model.js';
import type { KeyRing } from '../keys/key-ring.js';
import { issuerV1, issuerV2 } from './issuer.js';
import { newTokenId, signJwt } from './jws.js';

/** How the client authenticated: `appidacr` / `azpacr` (`1` secret, `2` certificate). */
export type ClientAuthenticationLevel = '1' | '2';

/** Input of {@link issueAppAccessToken}. */
export interface AppAccessTokenInput {
  readonly keyRing: KeyRing;
  /** Public base URL. */
  readonly base: string;
  readonly tenantId: string;
  readonly client: Application;
  readonly clientServicePrincipal: ServicePrincipal;
  readonly resource: Application;
  /** The resource identifier as the client named it (`{identifier}/.default`); the v1 `aud`. */
  readonly requestedIdentifier: string;
  /** Values of the app roles granted to the client on this resource. */
  readonly roles: readonly string[];
  readonly acr: ClientAuthenticationLevel;
  /** Unix seconds. */
  readonly now: number;
  /** Seconds. */
  readonly lifetimeSeconds: number;
}

/**
 * Issues an app-only access token (client credentials) in the version the resource asks for
 * (`api.requestedAccessTokenVersion`: 2 → v2.0 claims and `typ: at+jwt`; otherwise v1.0), signed with the
 * current key of the resource's algorithm (RS256 unless the resource chose ES256). Header carries `kid` and `x5t`.
 * v2 tokens also carry `jti` (= `uti`) and `client_id` (= `azp`), which RFC 9068 §2.2 requires.
 *
 * @returns the compact JWS.
 * @see SPEC.md §3 Tokens, RFC 9068 §2 (JWT access token profile), RFC 7515
 */
export async function issueAppAccessToken(input: AppAccessTokenInput): Promise<string> {
  const v2 = input.resource.api.requestedAccessTokenVersion === 2;
  const issuer = v2 ? issuerV2(input.base, input.tenantId) : issuerV1(input.base, input.tenantId);
  const uti = newTokenId();
  const claims: AppAccessTokenClaims & { idp?: string } = {
    aud: v2 ? input.resource.appId : input.requestedIdentifier,
    iss: issuer,
    iat: input.now,
    nbf: input.now,
    exp: input.now + input.lifetimeSeconds,
    ...(v2 ? {} : { idp: issuer }),
    ...(v2
      ? { azp: input.client.appId, azpacr: input.acr }
      : { appid: input.client.appId, appidacr: input.acr }),
    idtyp: 'app',
    oid: input.clientServicePrincipal.id,
    ...(input.roles.length > 0 ? { roles: [...input.roles] } : {}),
    sub: input.clientServicePrincipal.id,
    tid: input.tenantId,
    uti,
    ver: v2 ? '2.0' : '1.0',
    // RFC 9068 §2.2 requires both in a `typ: at+jwt` token.
    ...(v2 ? { jti: uti, client_id: input.client.appId } : {}),
  };
  const key = input.keyRing.signingKey(input.resource.accessTokenSigningAlgorithm);
  return signJwt(key, v2 ? 'at+jwt' : 'JWT', claims);
}
