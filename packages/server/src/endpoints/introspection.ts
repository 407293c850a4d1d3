import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { isAudienceOf } from '../directory/identifiers.js';
import { segmentAdmitsTenant } from '../directory/tenant-segment.js';
import { openRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import { pairwiseSubject, responseScope } from '../tokens/user-tokens.js';
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js';
import { tokenRequestOf } from './token-request.js';

/**
 * `POST /{tenant}/oauth2/v2.0/introspect` (RFC 7662) for confidential clients (7000218 otherwise): refresh and
 * access tokens the calling client holds or is the audience of are `active` while unexpired, unrevoked (their grant
 * neither) and their user enabled; everything else, ID tokens included, is `{ "active": false }` (§2.2). A token
 * of a tenant the `{tenant}` segment does not admit (another tenant's, or any at `consumers`) is not active there,
 * as its code or refresh token would not be redeemed there.
 */
export function registerIntrospectionEndpoint(app: FastifyInstance, context: ServerContext): void {
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/introspect', async (request, reply) => {
    const { token, client, tenantSegment } = await tokenRequestOf(context, request);
    if (client.clientAuthenticationLevel === '0') throw new IdentityError(7000218);
    const now = context.now();
    const inactive = { active: false };
    const send = (body: object) => reply.header('cache-control', 'no-store').send(body);
    const refresh = openRefreshToken(context.keys.refreshToken, token);
    if (refresh !== undefined) {
      const family = await context.signIn.refreshFamilies.find(refresh.familyId);
      if (
        family === undefined ||
        family.authentication.clientId !== client.application.appId ||
        !segmentAdmitsTenant(tenantSegment, family.authentication.tenantId) ||
        family.revokedAt !== null ||
        context.revocations.isGrantRevoked(family.familyId) ||
        // A disabled user's tokens are no longer redeemable (50057), so not active either.
        (await context.cache.user(family.authentication.userId))?.accountEnabled !== true ||
        family.expiresAt <= now ||
        family.tokenHash !== tokenHash(token)
      ) {
        return send(inactive);
      }
      return send({
        active: true,
        token_type: 'refresh_token',
        client_id: family.authentication.clientId,
        // As the token response named them: resource scopes qualified, OIDC scopes once.
        scope: responseScope(family.grant.requestedIdentifier, family.grant.scopes, family.grant.oidcScopes),
        exp: family.expiresAt,
        iat: family.createdAt,
        // The pairwise subject the client's tokens carry, not the object id.
        sub: pairwiseSubject(
          context.keys.pairwise,
          family.authentication.userId,
          family.authentication.clientId,
        ),
        tid: family.authentication.tenantId,
      });
    }
    // Only access tokens we issued are active (never an ID token), and only while neither they nor their grant
    // are revoked (RFC 7662 §2.2).
    const verified = await verifyOwnAccessToken(context.keyRing(), context.baseUrl(), token, 0, {
      revocations: context.revocations,
    });
    if (!verified.ok) return send(inactive);
    const { claims } = verified;
    if (typeof claims.tid !== 'string' || !segmentAdmitsTenant(tenantSegment, claims.tid))
      return send(inactive);
    const appId = client.application.appId;
    const allowed =
      isAudienceOf(client.application, claims.aud) || claims.azp === appId || claims.appid === appId;
    if (!allowed) return send(inactive);
    // As at userinfo: a user token stops being active when its user is disabled (a cached lookup).
    if (claims.idtyp === 'user') {
      const user = typeof claims.oid === 'string' ? await context.cache.user(claims.oid) : undefined;
      if (user?.accountEnabled !== true) return send(inactive);
    }
    return send({
      active: true,
      token_type: 'access_token',
      ...claims,
      client_id: claims.azp ?? claims.appid,
    });
  });
}
