import type { JWTPayload } from 'jose';
import type { Application, ServicePrincipal, User } from '../directory/model.js';
import type { KeyRing } from '../keys/key-ring.js';
import { issuerV1, issuerV2 } from './issuer.js';
import { newTokenId, signJwt } from './jws.js';
import { pairwiseSubject } from './user-tokens.js';

/**
 * How the client authenticated at the token endpoint, as access tokens report it in `appidacr` (v1) / `azpacr`
 * (v2): `0` public client (no credential), `1` client secret, `2` certificate (private_key_jwt). Not OIDC's `acr`,
 * which is about the user's authentication.
 */
export type ClientAuthenticationLevel = '0' | '1' | '2';

/**
 * The party acting for the subject (RFC 8693 §4.1 `act`): its `sub`, optionally its issuer and, for a chain of
 * delegation, the actor before it.
 */
export interface ActorClaim {
  readonly sub: string;
  readonly iss?: string;
  readonly act?: ActorClaim;
}

/** Who an access token is about: the client itself (app-only) or a user it acts for (delegated). */
export type AccessTokenSubject =
  | {
      readonly kind: 'app';
      /** The client's service principal in the token's tenant: `oid` and `sub`. */
      readonly servicePrincipal: ServicePrincipal;
      /** Values of the resource's app roles granted to the client (application permissions). */
      readonly roles: readonly string[];
    }
  | {
      readonly kind: 'user';
      readonly user: User;
      /** Delegated scope values of the resource (`scp`), in the registered spelling. */
      readonly scopes: readonly string[];
      /** Values of the resource's app roles assigned to the user (see `userAppRoles`). */
      readonly roles: readonly string[];
      /** RFC 8176 methods of the user's authentication, e.g. `["pwd"]`. */
      readonly amr: readonly string[];
      /**
       * Conditional access authentication context ids the authentication satisfied (`acrs`, e.g. `["c1"]`);
       * omitted from the token when empty.
       */
      readonly acrs?: readonly string[] | undefined;
      /** Key of the pairwise `sub` (OIDC Core §8.1). */
      readonly pairwiseKey: Buffer;
      /**
       * The grant (refresh token family id) the token was issued from, as `grant_id`: revoking the grant makes the
       * token inactive at introspection and userinfo. Absent for implicit-flow tokens, which belong to none.
       */
      readonly grantId?: string | undefined;
    };

/** Input of {@link issueAccessToken}. */
export interface AccessTokenInput {
  readonly keyRing: KeyRing;
  /** Public base URL. */
  readonly base: string;
  readonly tenantId: string;
  readonly client: Application;
  readonly clientAuthenticationLevel: ClientAuthenticationLevel;
  readonly resource: Application;
  /**
   * The resource identifier as the client named it (`{identifier}/.default`, `{identifier}/{scope}`); the v1 `aud`
   * (the first identifier URI, else the `appId`, when empty). v2 tokens use the resource's `appId`.
   */
  readonly requestedIdentifier: string;
  readonly subject: AccessTokenSubject;
  /** RFC 8693 §4.1: the actor, for tokens issued by delegation; omitted from the token when absent. */
  readonly act?: ActorClaim | undefined;
  /**
   * RFC 9449 §6.1: the JWK SHA-256 thumbprint (RFC 7638, base64url) of the DPoP key the token is bound to, as
   * `cnf.jkt`; omitted when the token is a plain bearer token.
   */
  readonly dpopJkt?: string | undefined;
  /** Unix seconds. */
  readonly now: number;
  /** Seconds. */
  readonly lifetimeSeconds: number;
}

/**
 * Issues an access token in the version the resource asks for (`api.requestedAccessTokenVersion`: 2 → v2.0 claims
 * and `typ: at+jwt`; otherwise v1.0), signed with the current key of the resource's algorithm (RS256 unless the
 * resource chose ES256); the header carries `kid` and `x5t`.
 *
 * App subjects (client credentials) get `idtyp: app`, the service principal as `oid` / `sub` and v1's `idp`.
 * User subjects get `idtyp: user`, `amr`, `name`, `scp`, a pairwise `sub`, `preferred_username` (v2) or `upn` /
 * `unique_name` (v1), and `grant_id` when issued from a grant. Both carry `azp` / `azpacr` (v2) or `appid` /
 * `appidacr` (v1), `roles` when any (omitted when none, as Entra does), and in v2 RFC 9068 §2.2's `jti` (= `uti`)
 * and `client_id` (= `azp`).
 *
 * @returns the compact JWS.
 * @see RFC 9068 §2 (JWT access token profile), RFC 8693 §4.1 (`act`), RFC 7515
 */
export async function issueAccessToken(input: AccessTokenInput): Promise<string> {
  const { subject, resource, client } = input;
  const v2 = resource.api.requestedAccessTokenVersion === 2;
  const issuer = v2 ? issuerV2(input.base, input.tenantId) : issuerV1(input.base, input.tenantId);
  const user = subject.kind === 'user' ? subject : undefined;
  const upn = user?.user.userPrincipalName;
  const oid = subject.kind === 'app' ? subject.servicePrincipal.id : subject.user.id;
  const sub =
    subject.kind === 'app'
      ? subject.servicePrincipal.id
      : pairwiseSubject(subject.pairwiseKey, subject.user.id, client.appId);
  const level = input.clientAuthenticationLevel;
  const uti = newTokenId();
  // Claim order follows the tokens Entra issues; tests and resources compare whole claim sets.
  const claims: JWTPayload = {
    aud: v2 ? resource.appId : input.requestedIdentifier || resource.identifierUris[0] || resource.appId,
    iss: issuer,
    iat: input.now,
    nbf: input.now,
    exp: input.now + input.lifetimeSeconds,
    ...(user === undefined ? (v2 ? {} : { idp: issuer }) : { amr: [...user.amr] }),
    ...(v2
      ? { azp: client.appId, azpacr: level, ...(upn === undefined ? {} : { preferred_username: upn }) }
      : { appid: client.appId, appidacr: level, ...(upn === undefined ? {} : { upn, unique_name: upn }) }),
    idtyp: subject.kind,
    ...(user === undefined ? {} : { name: user.user.displayName }),
    oid,
    ...(subject.roles.length > 0 ? { roles: [...subject.roles] } : {}),
    ...(user === undefined ? {} : { scp: user.scopes.join(' ') }),
    sub,
    tid: input.tenantId,
    uti,
    ver: v2 ? '2.0' : '1.0',
    // RFC 9068 §2.2 requires both in a `typ: at+jwt` token.
    ...(v2 ? { jti: uti, client_id: client.appId } : {}),
    ...(user?.grantId === undefined ? {} : { grant_id: user.grantId }),
    ...(input.act === undefined ? {} : { act: input.act }),
    ...(user?.acrs === undefined || user.acrs.length === 0 ? {} : { acrs: [...user.acrs] }),
    ...(input.dpopJkt === undefined ? {} : { cnf: { jkt: input.dpopJkt } }),
  };
  const key = input.keyRing.signingKey(resource.accessTokenSigningAlgorithm);
  return signJwt(key, v2 ? 'at+jwt' : 'JWT', claims);
}
