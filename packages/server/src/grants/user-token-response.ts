import { IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import type { Application, AuthorizedGrant, User } from '../directory/model.js';
import type { RedirectPlatform } from '../store/sign-in-store.js';
import { mintRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import {
  clientInfoOf,
  issueDelegatedAccessToken,
  issueIdToken,
  responseScope,
  type ClientAcr,
} from '../tokens/user-tokens.js';
import { userAppRoles } from '../tokens/user-roles.js';

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
 * app roles on it and the grant's id, see {@link issueDelegatedAccessToken}), an ID token when
 * `openid` was granted (on refresh too, as MSAL needs), the refresh token when one was issued, and `client_info`
 * when asked.
 *
 * @throws IdentityError 500011 when the resource no longer exists.
 */
export async function userTokenResponse(
  context: ServerContext,
  input: {
    client: Application;
    acr: ClientAcr;
    user: User;
    grant: AuthorizedGrant;
    platform: RedirectPlatform;
    authTime: number;
    amr: readonly string[];
    nonce?: string | undefined;
    clientInfo: boolean;
    refreshToken?: IssuedRefreshToken | undefined;
    /** The grant (refresh token family id) the tokens are issued from; the access token's `grant_id`. */
    grantId: string;
  },
): Promise<TokenResponse> {
  const resource = await context.cache.application(input.grant.resourceAppId);
  if (resource === undefined) {
    throw new IdentityError(500011, { resource: input.grant.resourceAppId, tenant: input.user.tenantId });
  }
  const now = context.now();
  const lifetimeSeconds = context.config.accessTokenLifetimeSeconds;
  const common = {
    keyRing: context.keyRing(),
    base: context.baseUrl(),
    pairwiseKey: context.keys.pairwise,
    tenantId: input.user.tenantId,
    user: input.user,
    client: input.client,
    now,
    lifetimeSeconds,
    amr: input.amr,
  };
  const accessToken = await issueDelegatedAccessToken({
    ...common,
    resource,
    requestedIdentifier: input.grant.requestedIdentifier,
    scopes: input.grant.scopes,
    acr: input.acr,
    roles: await userAppRoles(context.cache, input.user, resource),
    grantId: input.grantId,
  });
  const response: TokenResponse = {
    token_type: 'Bearer',
    scope: responseScope(input.grant.requestedIdentifier, input.grant.scopes, input.grant.oidcScopes),
    expires_in: lifetimeSeconds,
    ext_expires_in: lifetimeSeconds,
    access_token: accessToken,
  };
  if (input.refreshToken !== undefined) {
    response.refresh_token = input.refreshToken.token;
    if (input.platform === 'spa') response.refresh_token_expires_in = input.refreshToken.expiresAt - now;
  }
  if (input.grant.oidcScopes.includes('openid')) {
    response.id_token = await issueIdToken({
      ...common,
      authTime: input.authTime,
      nonce: input.nonce,
      accessToken,
    });
  }
  if (input.clientInfo) response.client_info = clientInfoOf(input.user.id, input.user.tenantId);
  return response;
}
