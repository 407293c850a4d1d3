import { IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import type { Application, AuthorizedGrant, User } from '../directory/model.js';
import type { AuthenticationEvent } from '../sessions/authentication-event.js';
import { loginHintFor } from '../sessions/login-hint.js';
import { issueAccessToken, type ActorClaim, type ClientAuthenticationLevel } from '../tokens/access-token.js';
import { mintRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import { clientInfoOf, issueIdToken, responseScope } from '../tokens/user-tokens.js';
import { userAppRoles } from '../tokens/user-roles.js';
import { checkConditionalAccess } from './conditional-access.js';

/** A refresh token to hand out with the response. */
export interface IssuedRefreshToken {
  readonly token: string;
  /** Unix seconds; sent as `refresh_token_expires_in` for spa. */
  readonly expiresAt: number;
}

/** Mints the refresh token of a family generation and its stored hash. */
export function refreshTokenFor(
  context: ServerContext,
  claims: { familyId: string; generation: number; userId: string; tenantId: string },
): { token: string; hash: string } {
  const token = mintRefreshToken(context.keys.refreshToken, claims);
  return { token, hash: tokenHash(token) };
}

/**
 * Builds the token response of a user grant: a delegated access token for the grant's resource (with the user's
 * app roles on it and the grant's id, see {@link issueAccessToken}), an ID token when
 * `openid` was granted (on refresh too, as MSAL needs), the refresh token when one was issued, and `client_info`
 * when asked.
 *
 * Conditional access is checked first ({@link checkConditionalAccess}): a policy the user's authentication does not
 * satisfy refuses the grant before anything is signed.
 *
 * @throws IdentityError 500011 when the resource no longer exists, and those of {@link checkConditionalAccess}.
 */
export async function userTokenResponse(
  context: ServerContext,
  input: {
    client: Application;
    clientAuthenticationLevel: ClientAuthenticationLevel;
    /**
     * The grant's instant (Unix seconds), read once by the grant before its checks and writes: the tokens' `iat`,
     * `nbf` and `exp` and the spa `refresh_token_expires_in` count from it, so a clock second passing during the
     * grant's durable commit cannot shorten a lifetime the grant computed.
     */
    now: number;
    user: User;
    grant: AuthorizedGrant;
    /** The user's authentication the grant came from: `auth_time`, `amr`, and the platform (spa refresh life). */
    authentication: AuthenticationEvent;
    nonce?: string | undefined;
    clientInfo: boolean;
    refreshToken?: IssuedRefreshToken | undefined;
    /** The grant (refresh token family id) the tokens are issued from; the access token's `grant_id`. */
    grantId: string;
    /** The access token's `act` claim (RFC 8693 §4.1): the party acting for the user (token exchange). */
    act?: ActorClaim | undefined;
    /**
     * RFC 9449: thumbprint of the DPoP key the request proved; the access token carries `cnf.jkt` and the response
     * says `token_type: DPoP`. Absent for bearer tokens.
     */
    dpopJkt?: string | undefined;
  },
): Promise<TokenResponse> {
  const resource = await context.cache.application(input.grant.resourceAppId);
  if (resource === undefined) {
    throw new IdentityError(500011, { resource: input.grant.resourceAppId, tenant: input.user.tenantId });
  }
  await checkConditionalAccess(context, {
    client: input.client,
    resource,
    user: input.user,
    authentication: input.authentication,
  });
  const { now } = input;
  const lifetimeSeconds = context.config.accessTokenLifetimeSeconds;
  const common = {
    keyRing: context.keyRing(),
    base: context.baseUrl(),
    tenantId: input.user.tenantId,
    client: input.client,
    now,
    lifetimeSeconds,
  };
  const accessToken = await issueAccessToken({
    ...common,
    clientAuthenticationLevel: input.clientAuthenticationLevel,
    resource,
    requestedIdentifier: input.grant.requestedIdentifier,
    subject: {
      kind: 'user',
      user: input.user,
      scopes: input.grant.scopes,
      roles: await userAppRoles(context.cache, input.user, resource),
      amr: input.authentication.amr,
      acrs: input.authentication.acrs,
      pairwiseKey: context.keys.pairwise,
      grantId: input.grantId,
    },
    act: input.act,
    dpopJkt: input.dpopJkt,
  });
  const response: TokenResponse = {
    token_type: input.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    scope: responseScope(input.grant.requestedIdentifier, input.grant.scopes, input.grant.oidcScopes),
    expires_in: lifetimeSeconds,
    ext_expires_in: lifetimeSeconds,
    access_token: accessToken,
  };
  if (input.refreshToken !== undefined) {
    response.refresh_token = input.refreshToken.token;
    if (input.authentication.platform === 'spa')
      response.refresh_token_expires_in = input.refreshToken.expiresAt - now;
  }
  if (input.grant.oidcScopes.includes('openid')) {
    response.id_token = await issueIdToken({
      ...common,
      pairwiseKey: context.keys.pairwise,
      loginHint: loginHintFor(context.keys.pairwise, input.user.id),
      user: input.user,
      authentication: input.authentication,
      nonce: input.nonce,
      accessToken,
    });
  }
  if (input.clientInfo) response.client_info = clientInfoOf(input.user.id, input.user.tenantId);
  return response;
}
