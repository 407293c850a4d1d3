import { createHash, createHmac } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Application, User } from '../directory/model.js';
import type { KeyRing } from '../keys/key-ring.js';
import { loginHintFor } from '../sessions/login-hint.js';
import { issuerV1, issuerV2 } from './issuer.js';
import { newTokenId, signJwt } from './jws.js';

/** How the client authenticated at the token endpoint: `0` public, `1` secret, `2` certificate. */
export type ClientAcr = '0' | '1' | '2';

/**
 * The pairwise subject of a user for one client (OIDC Core §8.1): base64url HMAC-SHA256 of the user's object id
 * and the client's `appId`, so two apps cannot correlate a user by `sub`. 43 characters.
 */
export function pairwiseSubject(key: Buffer, userId: string, clientAppId: string): string {
  return createHmac('sha256', key).update(`${userId}|${clientAppId.toLowerCase()}`).digest('base64url');
}

/** `client_info` as Microsoft clients expect it: base64url JSON `{"uid": oid, "utid": tid}`. */
export function clientInfoOf(userId: string, tenantId: string): string {
  return Buffer.from(JSON.stringify({ uid: userId, utid: tenantId })).toString('base64url');
}

/**
 * `at_hash` / `c_hash` (OIDC Core §3.3.2.11): base64url of the left half of the SHA-256 of the ASCII value, for
 * RS256 / ES256 ID tokens.
 */
export function halfHash(value: string): string {
  const digest = createHash('sha256').update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** Who and what a delegated token is for. */
export interface DelegatedTokenInput {
  readonly keyRing: KeyRing;
  /** Public base URL. */
  readonly base: string;
  readonly pairwiseKey: Buffer;
  readonly tenantId: string;
  readonly user: User;
  readonly client: Application;
  /** Unix seconds. */
  readonly now: number;
  /** Seconds. */
  readonly lifetimeSeconds: number;
  /** Authentication methods of the sign-in, e.g. `["pwd"]`. */
  readonly amr: readonly string[];
}

/**
 * Issues a delegated (user) access token for `resource` with `scp`, in the resource's token version: v2
 * (`azp`, `azpacr`, `preferred_username`, `typ: at+jwt`, and RFC 9068 §2.2's `jti` = `uti` and `client_id` =
 * `azp`) or v1 (`appid`, `appidacr`, `upn`, `unique_name`). `roles` carries the values of the resource's app roles
 * assigned to the user (omitted when none, as Entra does); `grant_id` names the grant (refresh token family) the
 * token was issued from, so revoking the grant (code replay, refresh token reuse or revocation) makes the token
 * inactive at introspection and userinfo — resources never need it.
 *
 * @param requestedIdentifier the resource as the client named it; the v1 `aud` (v2 uses the `appId`).
 * @param grantId the grant (refresh token family id); absent for implicit-flow tokens, which belong to none.
 * @see SPEC.md §3 Tokens, RFC 9068 §2
 */
export async function issueDelegatedAccessToken(
  input: DelegatedTokenInput & {
    readonly resource: Application;
    readonly requestedIdentifier: string;
    readonly scopes: readonly string[];
    readonly acr: ClientAcr;
    /** Values of the resource's app roles assigned to the user (see {@link userAppRoles}). */
    readonly roles: readonly string[];
    readonly grantId?: string | undefined;
  },
): Promise<string> {
  const v2 = input.resource.api.requestedAccessTokenVersion === 2;
  const issuer = v2 ? issuerV2(input.base, input.tenantId) : issuerV1(input.base, input.tenantId);
  const upn = input.user.userPrincipalName;
  const uti = newTokenId();
  const claims: JWTPayload = {
    aud: v2
      ? input.resource.appId
      : input.requestedIdentifier || input.resource.identifierUris[0] || input.resource.appId,
    iss: issuer,
    iat: input.now,
    nbf: input.now,
    exp: input.now + input.lifetimeSeconds,
    amr: [...input.amr],
    ...(v2
      ? { azp: input.client.appId, azpacr: input.acr, preferred_username: upn }
      : { appid: input.client.appId, appidacr: input.acr, upn, unique_name: upn }),
    idtyp: 'user',
    name: input.user.displayName,
    oid: input.user.id,
    ...(input.roles.length > 0 ? { roles: [...input.roles] } : {}),
    scp: input.scopes.join(' '),
    sub: pairwiseSubject(input.pairwiseKey, input.user.id, input.client.appId),
    tid: input.tenantId,
    uti,
    ver: v2 ? '2.0' : '1.0',
    // RFC 9068 §2.2 requires both in a `typ: at+jwt` token.
    ...(v2 ? { jti: uti, client_id: input.client.appId } : {}),
    ...(input.grantId === undefined ? {} : { grant_id: input.grantId }),
  };
  const key = input.keyRing.signingKey(input.resource.accessTokenSigningAlgorithm);
  return signJwt(key, v2 ? 'at+jwt' : 'JWT', claims);
}

/**
 * Issues an ID token (OIDC Core §2): `aud` = client, v2.0 issuer of the user's tenant, pairwise `sub`, `oid`,
 * `tid`, `name`, `preferred_username`, `auth_time`, `amr`, `login_hint` (the Microsoft identity platform's
 * optional claim: an opaque account hint apps send back as `login_hint` or `logout_hint`, see {@link loginHintFor});
 * `nonce` iff the authorization request had one; `at_hash` / `c_hash` when an access token / code travels with it.
 * Signed RS256.
 *
 * @see OIDC Core §3.1.3.6, §3.3.2.11
 */
export async function issueIdToken(
  input: DelegatedTokenInput & {
    /** Unix seconds of the interactive sign-in. */
    readonly authTime: number;
    readonly nonce?: string | undefined;
    readonly accessToken?: string | undefined;
    readonly code?: string | undefined;
  },
): Promise<string> {
  const claims: JWTPayload = {
    aud: input.client.appId,
    iss: issuerV2(input.base, input.tenantId),
    iat: input.now,
    nbf: input.now,
    exp: input.now + input.lifetimeSeconds,
    auth_time: input.authTime,
    amr: [...input.amr],
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    ...(input.accessToken === undefined ? {} : { at_hash: halfHash(input.accessToken) }),
    ...(input.code === undefined ? {} : { c_hash: halfHash(input.code) }),
    login_hint: loginHintFor(input.pairwiseKey, input.user.id),
    name: input.user.displayName,
    oid: input.user.id,
    preferred_username: input.user.userPrincipalName,
    sub: pairwiseSubject(input.pairwiseKey, input.user.id, input.client.appId),
    tid: input.tenantId,
    ver: '2.0',
  };
  const key = input.keyRing.signingKey('RS256');
  return signJwt(key, 'JWT', claims);
}

/** The `scope` of a response, resource scopes qualified as the client named the resource (MSAL caches by it). */
export function responseScope(
  identifier: string,
  scopes: readonly string[],
  oidcScopes: readonly string[],
): string {
  const qualified = scopes.map((s) =>
    identifier === '' || oidcScopes.includes(s) ? s : `${identifier}/${s}`,
  );
  return [...new Set([...qualified, ...oidcScopes])].join(' ');
}
