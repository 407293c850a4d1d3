import { IdentityError, type TokenResponse } from '@tessera/protocol';
import type { JWTPayload } from 'jose';
import type { AuthenticatedClient } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import { missingConsent, resolveScopes } from '../directory/consent.js';
import { isAudienceOf } from '../directory/identifiers.js';
import type { Application, AuthorizedGrant, User } from '../directory/model.js';
import type { AuthenticationEvent } from '../sessions/authentication-event.js';
import type { ActorClaim } from '../tokens/access-token.js';
import { newFamilyId } from '../tokens/opaque-tokens.js';
import { responseScope } from '../tokens/user-tokens.js';
import { verifyOwnAccessToken, type OwnTokenRefusal } from '../tokens/verify-own-token.js';
import { checkConditionalAccess } from './conditional-access.js';
import type { TokenRequest } from './grant.js';
import { refreshTokenFor, userTokenResponse, type IssuedRefreshToken } from './user-token-response.js';

/**
 * The rules shared by the delegation grants, On-Behalf-Of (`on-behalf-of.ts`) and RFC 8693 token exchange
 * (`token-exchange.ts`): which incoming user token a confidential client may trade, which scopes it gets for the
 * downstream resource, and how the result is issued. One copy of each rule; the grants only parse their parameters.
 */

/** A verified incoming user access token and the user it represents. */
export interface DelegatedUser {
  /** The incoming token's claims (verified). */
  readonly claims: JWTPayload;
  readonly user: User;
}

/**
 * Verifies the user access token a client trades (OBO's `assertion`, token exchange's `subject_token`): an access
 * token this server issued (signature, `iss`, lifetime, not revoked), in the client's tenant, about a user
 * (`idtyp: user`), addressed to the client (`aud` its appId or one of its App ID URIs, v1 or v2), whose user exists
 * in the tenant and is enabled.
 *
 * @param parameter the form parameter that carried the token, named in refusals.
 * @throws IdentityError 500133 (expired or not yet valid), 50013 (not this server's access token, an ID token, an
 *   app-only token, revoked, of another tenant, or of an unknown user), 500131 (addressed to another audience),
 *   50057 (user disabled).
 */
export async function verifyDelegatedUserToken(
  context: ServerContext,
  client: AuthenticatedClient,
  token: string,
  parameter: string,
): Promise<DelegatedUser> {
  const tenantId = client.tenant.id;
  const verified = await verifyOwnAccessToken(
    context.keyRing(),
    context.baseUrl(),
    token,
    context.config.clockSkewSeconds,
    { tenantId, revocations: context.revocations },
  );
  if (!verified.ok) throw ownTokenRefusal(verified.reason, parameter);
  const claims = verified.claims;
  if (claims.idtyp !== 'user' || typeof claims.oid !== 'string') {
    throw new IdentityError(50013, {
      reason: `The ${parameter} is an app-only token: it represents no user.`,
    });
  }
  if (!isAudienceOf(client.application, claims.aud)) {
    throw new IdentityError(500131, {
      tokenAudience: String(claims.aud).slice(0, 256),
      expectedAudience: client.application.appId,
    });
  }
  const user = await context.cache.user(claims.oid);
  if (user === undefined || user.tenantId !== tenantId) {
    throw new IdentityError(50013, { reason: `The user of the ${parameter} does not exist.` });
  }
  if (!user.accountEnabled) throw new IdentityError(50057);
  return { claims, user };
}

/**
 * Verifies a token of the acting party (RFC 8693 §2.1 `actor_token`): an access token this server issued in the
 * client's tenant (signature, `iss`, lifetime, not revoked), app-only or delegated, that the calling client obtained
 * itself (`azp` (v2) or `appid` (v1) is its appId), so a client cannot name another party as the actor.
 *
 * @returns the actor: the token's `sub` and `iss` (RFC 8693 §4.1).
 * @throws IdentityError 500133 (expired or not yet valid), 50013 (not this server's access token, revoked, of
 *   another tenant, or obtained by another client).
 */
export async function verifyActorToken(
  context: ServerContext,
  client: AuthenticatedClient,
  token: string,
): Promise<{ sub: string; iss: string }> {
  const verified = await verifyOwnAccessToken(
    context.keyRing(),
    context.baseUrl(),
    token,
    context.config.clockSkewSeconds,
    { tenantId: client.tenant.id, revocations: context.revocations },
  );
  if (!verified.ok) throw ownTokenRefusal(verified.reason, 'actor_token');
  const claims = verified.claims;
  const obtainedBy = claims.azp ?? claims.appid;
  if (typeof obtainedBy !== 'string' || obtainedBy.toLowerCase() !== client.application.appId.toLowerCase()) {
    throw new IdentityError(50013, { reason: 'The actor_token was not issued to the calling client.' });
  }
  if (typeof claims.sub !== 'string' || typeof claims.iss !== 'string') {
    throw new IdentityError(50013, { reason: 'The actor_token has no subject.' });
  }
  return { sub: claims.sub, iss: claims.iss };
}

/** The scopes a delegation grant issues and the downstream resource they are of. */
export interface ConsentedGrant {
  readonly resource: Application;
  readonly grant: AuthorizedGrant;
}

/**
 * The scopes a client gets for a user on one downstream resource (`scope` as the token endpoint takes it): only
 * delegated scopes the consent engine ({@link missingConsent}) finds consented for the client on the resource —
 * the user's own grant, an `AllPrincipals` grant (combined consent through `knownClientApplications` records one),
 * or the resource's `preAuthorizedApplications`. `{resource}/.default` stands for the client's static permissions.
 * OIDC scopes are kept but not consent-checked: the user's sign-in already granted them.
 *
 * @returns the grant and its resource (the directory object the scopes were resolved on).
 * @throws IdentityError 70011 / 700022 / 500011 (scope), 65001 `invalid_grant` with `suberror: consent_required`
 *   (a scope not consented, or no scope of the resource at all).
 */
export async function consentedDelegatedGrant(
  context: ServerContext,
  client: AuthenticatedClient,
  user: User,
  scope: string,
): Promise<ConsentedGrant> {
  const tenantId = client.tenant.id;
  const { resource, grant } = await resolveScopes(context.cache, client.application, scope, tenantId);
  const needs = await missingConsent(context.cache, {
    tenantId,
    userId: user.id,
    client: client.application,
    resource,
    grant: { ...grant, oidcScopes: [] },
  });
  const missing = needs.flatMap((need) => need.scopes);
  if (missing.length > 0 || grant.scopes.length === 0) {
    throw new IdentityError(
      65001,
      { clientId: client.application.appId },
      {
        error: 'invalid_grant',
        suberror: 'consent_required',
        detail: missing.length > 0 ? `missing ${missing.join(' ')}` : 'no scope of the resource consented',
      },
    );
  }
  return { resource, grant };
}

/**
 * Issues the delegated token of a delegation grant: about the incoming token's user (`amr` and `auth_time` kept),
 * for the grant's resource. `offline_access` adds a refresh token of a new family owned by the client and tied to
 * this grant (not to a browser session); without it, the access token carries the incoming token's `grant_id`, so
 * revoking the original grant revokes what was issued from it. The response's `scope` names the resource's scopes
 * only, qualified as the client named the resource, as Entra's On-Behalf-Of responses do.
 *
 * Whom the token was issued for (user, client, resource) is told to `input.issued` (the token endpoint's sign-in
 * log), from the directory objects already read, so the endpoint does not decode the token to find out.
 *
 * @param input.act the `act` claim of the issued access token (RFC 8693 §4.1), token exchange only.
 * @throws IdentityError 500011 when the resource no longer exists.
 */
export async function issueDelegatedToken(
  context: ServerContext,
  input: {
    client: AuthenticatedClient;
    delegated: DelegatedUser;
    consented: ConsentedGrant;
    clientInfo: boolean;
    act?: ActorClaim | undefined;
    issued?: TokenRequest['issued'];
  },
): Promise<TokenResponse> {
  const { client } = input;
  const { resource, grant } = input.consented;
  const { claims, user } = input.delegated;
  const tenantId = client.tenant.id;
  const now = context.now();
  const authentication: AuthenticationEvent = {
    userId: user.id,
    tenantId,
    authTime: typeof claims.iat === 'number' ? claims.iat : now,
    amr: amrOf(claims),
    clientId: client.application.appId,
    platform: 'web',
  };
  let refreshToken: IssuedRefreshToken | undefined;
  let grantId = typeof claims.grant_id === 'string' ? claims.grant_id : newFamilyId();
  if (grant.oidcScopes.includes('offline_access')) {
    // A conditional access refusal must leave no refresh token family behind: decide before the insert.
    await checkConditionalAccess(context, { client: client.application, resource, user, authentication });
    grantId = newFamilyId();
    const expiresAt = now + context.config.refreshTokenLifetimeSeconds;
    const minted = refreshTokenFor(context, { familyId: grantId, generation: 0, userId: user.id, tenantId });
    await context.signIn.refreshFamilies.insert({
      familyId: grantId,
      tokenHash: minted.hash,
      generation: 0,
      authentication,
      grant,
      clientInfo: input.clientInfo,
      createdAt: now,
      expiresAt,
    });
    refreshToken = { token: minted.token, expiresAt };
  }
  const response = await userTokenResponse(context, {
    client: client.application,
    clientAuthenticationLevel: client.clientAuthenticationLevel,
    now,
    user,
    grant,
    authentication,
    clientInfo: input.clientInfo,
    refreshToken,
    grantId,
    act: input.act,
  });
  response.scope = responseScope(grant.requestedIdentifier, grant.scopes, []);
  input.issued?.({ tenantId, client: client.application, resource, user });
  return response;
}

/** The refusal of an incoming token this server does not accept, by why, naming the parameter that carried it. */
function ownTokenRefusal(reason: OwnTokenRefusal, parameter: string): IdentityError {
  switch (reason) {
    case 'expired':
    case 'not_yet_valid':
      return new IdentityError(500133, {}, { detail: `${parameter}: ${reason}` });
    case 'wrong_tenant':
      return new IdentityError(50013, { reason: `The ${parameter} was issued in another tenant.` });
    case 'revoked':
      return new IdentityError(50013, { reason: `The ${parameter} has been revoked.` });
    case 'not_access_token':
      return new IdentityError(50013, {
        reason: `The ${parameter} is not an access token (an ID token cannot be used).`,
      });
    default:
      return new IdentityError(
        50013,
        { reason: `The ${parameter} is not a token this server issued, or its signature is invalid.` },
        { detail: reason },
      );
  }
}

/** The incoming token's `amr` (RFC 8176), strings only; `pwd` when it carries none. */
function amrOf(claims: JWTPayload): string[] {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
  return amr.length > 0 ? amr : ['pwd'];
}
