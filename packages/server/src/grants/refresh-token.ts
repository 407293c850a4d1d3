import { GrantType, IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import { consentedScopes, resolveScopes } from '../directory/consent.js';
import type { AuthorizedGrant } from '../directory/model.js';
import { openRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import { identifyClient } from './client-identity.js';
import type { Grant, TokenRequest } from './grant.js';
import { refreshTokenFor, userTokenResponse } from './user-token-response.js';

/**
 * The refresh token grant with rotation. The token's MAC is checked without I/O; a `scope` naming another resource
 * (or fewer scopes) is checked against the user's consent from the cache; then one conditional UPDATE rotates the
 * family — only its current token, presented by its own client, unrevoked and unexpired. A rotated (older) token
 * presented again revokes the whole family. `spa` families keep their fixed expiry; others slide.
 *
 * @throws IdentityError 900144 (no `refresh_token`), 70000 (malformed, another client's, reused), 70008
 *   (expired / revoked), 7000218 (a web client's token without client credentials), 700084 (spa token past its fixed life), 65001 (scope not consented), 50057 (user
 *   disabled), and scope errors.
 * @see RFC 6749 §6, RFC 9700 §4.14.2
 */
export const refreshTokenGrant: Grant = {
  grantType: GrantType.refreshToken,
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const presented = params.refresh_token;
    if (presented === undefined || presented === '')
      throw new IdentityError(900144, { name: 'refresh_token' });
    const client = await identifyClient(context, request);
    const claims = openRefreshToken(context.keys.refreshToken, presented);
    if (claims === undefined) {
      throw new IdentityError(
        70000,
        { name: 'refresh_token', reason: 'The refresh token is malformed or was not issued by this server.' },
        { suberror: 'bad_token' },
      );
    }
    const user = await context.cache.user(claims.userId);
    if (user?.accountEnabled !== true) throw new IdentityError(50057);

    let requested: AuthorizedGrant | undefined;
    if (params.scope !== undefined && params.scope.trim() !== '') {
      const { resource, grant } = await resolveScopes(
        context.cache,
        client.application,
        params.scope,
        claims.tenantId,
      );
      const granted = await consentedScopes(context.cache, {
        tenantId: claims.tenantId,
        userId: user.id,
        client: client.application,
        resource,
      });
      const directoryGranted = await consentedScopes(context.cache, {
        tenantId: claims.tenantId,
        userId: user.id,
        client: client.application,
        resource: (await context.cache.application('00000003-0000-0000-c000-000000000000')) ?? resource,
      });
      const missing = [
        ...grant.scopes.filter(
          (s) =>
            !granted.has(s) &&
            !(resource.appId === '00000003-0000-0000-c000-000000000000' && grant.oidcScopes.includes(s)),
        ),
        ...grant.oidcScopes.filter((s) => !directoryGranted.has(s)),
      ];
      if (missing.length > 0) {
        throw new IdentityError(
          65001,
          { clientId: client.application.appId },
          { suberror: 'consent_required', detail: `missing ${missing.join(' ')}` },
        );
      }
      requested = grant;
    }

    const now = context.now();
    const next = refreshTokenFor(context, { ...claims, generation: claims.generation + 1 });
    const rotated = await context.signIn.rotateRefreshToken(
      claims.familyId,
      client.application.appId,
      tokenHash(presented),
      {
        tokenHash: next.hash,
        generation: claims.generation + 1,
        expiresAt: now + context.config.refreshTokenLifetimeSeconds,
      },
      now,
      client.acr === '0',
    );
    if (rotated.kind !== 'ok')
      throw await explainFailedRotation(
        context,
        claims.familyId,
        client.application.appId,
        claims.generation,
        now,
        client.acr === '0',
      );
    const family = rotated.value;
    const grant: AuthorizedGrant =
      requested === undefined
        ? family.grant
        : {
            ...requested,
            oidcScopes: requested.oidcScopes.length > 0 ? requested.oidcScopes : family.grant.oidcScopes,
          };
    return userTokenResponse(context, {
      client: client.application,
      acr: client.acr,
      user,
      grant: { ...grant, oidcScopes: [...new Set([...grant.oidcScopes, 'offline_access'])] },
      platform: family.platform,
      authTime: family.authTime,
      amr: family.amr,
      clientInfo: family.clientInfo || params.client_info === '1',
      refreshToken: { token: next.token, expiresAt: family.expiresAt },
      grantId: family.familyId,
    });
  },
};

/** Why a rotation matched nothing (slow path, one read): reuse revokes the family. */
async function explainFailedRotation(
  context: ServerContext,
  familyId: string,
  clientId: string,
  generation: number,
  now: number,
  unauthenticatedClient: boolean,
): Promise<IdentityError> {
  const family = await context.signIn.findRefreshFamily(familyId);
  if (family === undefined) {
    return new IdentityError(
      70000,
      { name: 'refresh_token', reason: 'The refresh token is unknown.' },
      { suberror: 'bad_token' },
    );
  }
  if (family.clientId !== clientId) {
    return new IdentityError(70000, {
      name: 'refresh_token',
      reason: 'The refresh token was issued to another client.',
    });
  }
  // RFC 6749 §6: a confidential (web) client's refresh token is redeemed only with its credentials.
  if (family.platform === 'web' && unauthenticatedClient) return new IdentityError(7000218);
  if (family.revokedAt !== null) return new IdentityError(70008, {}, { suberror: 'bad_token' });
  if (family.expiresAt <= now) {
    return family.platform === 'spa'
      ? new IdentityError(
          700084,
          { lifetime: `${context.config.spaRefreshTokenLifetimeSeconds} seconds` },
          { suberror: 'bad_token' },
        )
      : new IdentityError(70008, {}, { suberror: 'bad_token' });
  }
  if (generation < family.generation) {
    await context.signIn.revokeRefreshFamily(familyId, now);
    return new IdentityError(
      70000,
      {
        name: 'refresh_token',
        reason: 'The refresh token was already used; its whole family is now revoked.',
      },
      {
        suberror: 'bad_token',
        detail: `reuse of generation ${generation} < ${family.generation}; family revoked`,
      },
    );
  }
  return new IdentityError(
    70000,
    { name: 'refresh_token', reason: 'The refresh token is unknown.' },
    { suberror: 'bad_token' },
  );
}
