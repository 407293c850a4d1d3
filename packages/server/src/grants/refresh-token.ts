import { GrantType, IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import { missingConsent, resolveScopes } from '../directory/consent.js';
import { segmentAdmitsTenant } from '../directory/tenant-segment.js';
import type { Application, AuthorizedGrant } from '../directory/model.js';
import { isRegisteredSpaOrigin, spaOriginsOf } from '../directory/redirect-uris.js';
import { openRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import { identifyClient } from './client-identity.js';
import { checkConditionalAccessBeforeRotation } from './conditional-access.js';
import { assertDpopRequirement, type GrantDescriptor, type TokenRequest } from './grant.js';
import { refreshTokenFor, userTokenResponse } from './user-token-response.js';

/**
 * The refresh token grant with rotation. The token's MAC is checked without I/O; a `scope` naming another resource
 * (or fewer scopes) is checked by the consent engine ({@link missingConsent}, from the cache); then one conditional UPDATE rotates the
 * family — only its current token, presented by its own client, unrevoked and unexpired. A rotated (older) token
 * presented again revokes the whole family. `spa` families keep their fixed expiry; others slide. As codes are,
 * `spa` tokens are redeemed only cross-origin from an origin of the app's `spa` redirect URIs, and only they are;
 * a refusal for the origin consumes nothing. Redeemed only at its tenant's token endpoint (or `common` /
 * `organizations`), checked before rotating.
 *
 * @throws IdentityError 900144 (no `refresh_token`), 70000 (malformed, another client's, another tenant's
 *   endpoint, reused), 70008 (expired / revoked), 7000218 (a web client's token without client credentials),
 *   700084 (spa token past its fixed life), 9002327 (spa token without `Origin`), 9002326 (another token
 *   cross-origin), 9100019 (an origin not registered for the app), 65001 `invalid_grant` with `suberror:
 *   consent_required` (scope not consented), 50057 (user disabled), 9100303 (the app requires DPoP and no proof
 *   came), 9100304 / 9100305 (a DPoP-bound family without a proof / with another key's proof: nothing consumed,
 *   nothing revoked), and scope errors.
 *
 * With a DPoP proof the access token is bound to its key (`cnf.jkt`, `token_type: DPoP`); a family bound at
 * redemption (public and spa clients, RFC 9449 §5) rotates only with a proof by its key, checked in the rotation
 * statement itself. Confidential clients' families are not bound: each refresh may bind its access token to
 * whatever key proves it.
 * @see RFC 6749 §6, RFC 9700 §4.14.2, RFC 9449 §5
 */
export const refreshTokenGrant: GrantDescriptor = {
  grantType: GrantType.refreshToken,
  parameters: ['refresh_token', 'scope', 'client_info'],
  allowRepeated: [],
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const presented = params.refresh_token;
    if (presented === undefined || presented === '')
      throw new IdentityError(900144, { name: 'refresh_token' });
    const client = await identifyClient(context, request);
    assertDpopRequirement(client.application, request);
    checkOrigin(client.application, request.origin);
    const claims = openRefreshToken(context.keys.refreshToken, presented);
    if (claims === undefined) {
      throw new IdentityError(
        70000,
        { name: 'refresh_token', reason: 'The refresh token is malformed or was not issued by this server.' },
        { suberror: 'bad_token' },
      );
    }
    // Checked before rotating: a refusal here consumes nothing.
    if (!segmentAdmitsTenant(request.tenantSegment, claims.tenantId)) {
      throw new IdentityError(70000, {
        name: 'refresh_token',
        reason: 'The refresh token was issued in another tenant.',
      });
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
      const needs = await missingConsent(context.cache, {
        tenantId: claims.tenantId,
        userId: user.id,
        client: client.application,
        resource,
        grant,
      });
      const missing = needs.flatMap((need) => need.scopes);
      if (missing.length > 0) {
        // RFC 6749 §5.2 has no consent_required: the token endpoint says invalid_grant, and the suberror tells
        // MSAL to go interactive, as Entra does.
        throw new IdentityError(
          65001,
          { clientId: client.application.appId },
          { error: 'invalid_grant', suberror: 'consent_required', detail: `missing ${missing.join(' ')}` },
        );
      }
      requested = grant;
    }
    // Checked before rotating too: a conditional access refusal consumes nothing.
    await checkConditionalAccessBeforeRotation(context, {
      client: client.application,
      user,
      familyId: claims.familyId,
      requested,
    });

    const now = context.now();
    const next = refreshTokenFor(context, { ...claims, generation: claims.generation + 1 });
    const rotated = await context.signIn.refreshFamilies.rotate(
      claims.familyId,
      client.application.appId,
      tokenHash(presented),
      {
        tokenHash: next.hash,
        generation: claims.generation + 1,
        expiresAt: now + context.config.refreshTokenLifetimeSeconds,
      },
      now,
      client.clientAuthenticationLevel === '0',
      request.origin !== undefined,
      request.dpop?.jkt,
    );
    if (rotated.kind !== 'ok')
      throw await explainFailedRotation(
        context,
        claims.familyId,
        client.application.appId,
        claims.generation,
        now,
        client.clientAuthenticationLevel === '0',
        request.origin,
        request.dpop?.jkt,
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
      clientAuthenticationLevel: client.clientAuthenticationLevel,
      now,
      user,
      grant: { ...grant, oidcScopes: [...new Set([...grant.oidcScopes, 'offline_access'])] },
      authentication: family.authentication,
      clientInfo: family.clientInfo || params.client_info === '1',
      refreshToken: { token: next.token, expiresAt: family.expiresAt },
      grantId: family.familyId,
      dpopJkt: request.dpop?.jkt,
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
  origin: string | undefined,
  dpopJkt: string | undefined,
): Promise<IdentityError> {
  const family = await context.signIn.refreshFamilies.find(familyId);
  if (family === undefined) {
    return new IdentityError(
      70000,
      { name: 'refresh_token', reason: 'The refresh token is unknown.' },
      { suberror: 'bad_token' },
    );
  }
  if (family.authentication.clientId !== clientId) {
    return new IdentityError(70000, {
      name: 'refresh_token',
      reason: 'The refresh token was issued to another client.',
    });
  }
  const { platform } = family.authentication;
  // RFC 6749 §6: a confidential (web) client's refresh token is redeemed only with its credentials.
  if (platform === 'web' && unauthenticatedClient) return new IdentityError(7000218);
  if (family.revokedAt !== null) return new IdentityError(70008, {}, { suberror: 'bad_token' });
  if (family.expiresAt <= now) {
    return platform === 'spa'
      ? new IdentityError(
          700084,
          { lifetime: `${context.config.spaRefreshTokenLifetimeSeconds} seconds` },
          { suberror: 'bad_token' },
        )
      : new IdentityError(70008, {}, { suberror: 'bad_token' });
  }
  // RFC 9449 §5: before reuse detection, so that someone without the key (a thief of an older token included)
  // can neither redeem nor revoke: the family stays as it is. A rotated token presented with the right key still
  // revokes it below.
  if (family.dpopJkt !== undefined && dpopJkt === undefined) {
    return new IdentityError(9100304, { grant: 'refresh token' });
  }
  if (family.dpopJkt !== undefined && dpopJkt !== family.dpopJkt) {
    return new IdentityError(9100305, { grant: 'refresh token' });
  }
  if (generation === family.generation && platform === 'spa' && origin === undefined) {
    return new IdentityError(9002327);
  }
  if (generation === family.generation && platform !== 'spa' && origin !== undefined) {
    return new IdentityError(9002326, { origin: origin.slice(0, 256) });
  }
  if (generation < family.generation) {
    await context.signIn.refreshFamilies.revoke(familyId, now);
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

/**
 * A cross-origin request (an `Origin` header) may only come from one of the client's registered `spa` origins:
 * an app without `spa` redirect URIs never redeems cross-origin (9002326), and another origin is refused
 * (9100019). Checked before the token is opened, so nothing is consumed. Whether the token itself is a `spa` one
 * is checked in the rotation statement.
 */
function checkOrigin(application: Application, origin: string | undefined): void {
  if (origin === undefined) return;
  if (spaOriginsOf(application).size === 0) {
    throw new IdentityError(9002326, { origin: origin.slice(0, 256) });
  }
  if (!isRegisteredSpaOrigin(application, origin)) {
    throw new IdentityError(9100019, { origin: origin.slice(0, 256), clientId: application.appId });
  }
}
