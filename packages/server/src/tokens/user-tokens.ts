import { createHash, createHmac } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Application, User } from '../directory/model.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { UserAuthentication } from '../sessions/authentication-event.js';
import { issuerV2 } from './issuer.js';
import { signJwt } from './jws.js';

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

/** Input of {@link issueIdToken}. */
export interface IdTokenInput {
  readonly keyRing: KeyRing;
  /** Public base URL. */
  readonly base: string;
  /** Key of the pairwise `sub` (OIDC Core §8.1). */
  readonly pairwiseKey: Buffer;
  /** The opaque account hint of the user (`login_hint`; the sessions module makes it). */
  readonly loginHint: string;
  readonly tenantId: string;
  readonly user: User;
  readonly client: Application;
  /** The user's authentication the token reports: `auth_time` (Unix seconds) and `amr`. */
  readonly authentication: Pick<UserAuthentication, 'authTime' | 'amr'>;
  /** Unix seconds. */
  readonly now: number;
  /** Seconds. */
  readonly lifetimeSeconds: number;
  /** The authorization request's `nonce`, echoed when it had one. */
  readonly nonce?: string | undefined;
  /** The access token issued with it (`at_hash`). */
  readonly accessToken?: string | undefined;
  /** The code issued with it (`c_hash`). */
  readonly code?: string | undefined;
}

/**
 * Issues an ID token (OIDC Core §2): `aud` = client, v2.0 issuer of the user's tenant, pairwise `sub`, `oid`,
 * `tid`, `name`, `preferred_username`, `auth_time`, `amr`, `login_hint` (the Microsoft identity platform's
 * optional claim: an opaque account hint apps send back as `login_hint` or `logout_hint`);
 * `nonce` iff the authorization request had one; `at_hash` / `c_hash` when an access token / code travels with it.
 * Signed RS256.
 *
 * @see OIDC Core §3.1.3.6, §3.3.2.11
 */
export async function issueIdToken(input: IdTokenInput): Promise<string> {
  const claims: JWTPayload = {
    aud: input.client.appId,
    iss: issuerV2(input.base, input.tenantId),
    iat: input.now,
    nbf: input.now,
    exp: input.now + input.lifetimeSeconds,
    auth_time: input.authentication.authTime,
    amr: [...input.authentication.amr],
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    ...(input.accessToken === undefined ? {} : { at_hash: halfHash(input.accessToken) }),
    ...(input.code === undefined ? {} : { c_hash: halfHash(input.code) }),
    login_hint: input.loginHint,
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
